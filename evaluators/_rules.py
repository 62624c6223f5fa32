"""Acceptance rules: a tiny, safe expression language for pre-registered criteria over results.

Grammar (parsed by a tokenizer and a recursive-descent parser; nothing is ever passed to ``eval``)::

    rule       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | reference | call | "(" or_expr ")"
    reference  := METRIC ["." FIELD]          e.g. auroc.ci_low, sensitivity@threshold.ci_low, auroc (= estimate)
                | "site_gap" "." METRIC       largest between-site difference of a metric (alias max_site_gap)
    call       := ("noninferior" | "superior" | "equivalent") "(" METRIC "," "reference" "=" sum
                  ["," "margin" "=" sum] ")"

Comparisons give true/false; ``and``/``or``/``not`` combine them. A rule must be a truth value. A referenced
value that is missing or NaN at run time makes the comparison unknown; unknowns propagate by Kleene logic and a rule
that ends unknown is ``"undetermined"`` (and does not pass). Unknown metric or field names are errors when the rule
is checked against the known names (:func:`check_rule_names`, at protocol publish time), never at run time.

Functions (``ci_low``/``ci_high`` of the named metric's interval):

- ``noninferior(m, reference=r, margin=d)``: ``m.ci_low > r - d``
- ``superior(m, reference=r, margin=d)`` (margin defaults to 0): ``m.ci_low > r + d``
- ``equivalent(m, reference=r, margin=d)``: ``r - d < m.ci_low`` and ``m.ci_high < r + d``

Results input (:func:`evaluate_rules`): a mapping from metric name to an :class:`~evaluators.Estimate` (or a
mapping with the same field names, or a bare number taken as ``estimate``), plus ``"site_gap"`` mapping metric name
to a number (the between-site difference, e.g. from ``Breakdown(...).difference()``). ``"site_gap.auroc"`` as a
flat key is accepted too.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from evaluators.exceptions import RuleSyntaxError, UnknownMetricError

__all__ = [
    "ESTIMATE_FIELDS",
    "KNOWN_METRICS",
    "Rule",
    "Verdict",
    "check_rule_names",
    "evaluate_rules",
    "parse_rule",
]

#: Metric names this package computes, usable in rules.
KNOWN_METRICS: tuple[str, ...] = (
    "auroc", "average_precision",
    "sensitivity", "specificity", "ppv", "npv", "accuracy", "f1", "ppv_adjusted", "npv_adjusted",
    "brier", "ece", "calibration_intercept", "calibration_slope",
    "dice", "iou", "hd", "hd95", "assd", "nsd", "froc",
)

#: Fields of an :class:`~evaluators.Estimate` a rule may read.
ESTIMATE_FIELDS: tuple[str, ...] = ("estimate", "ci_low", "ci_high", "se", "n", "n_pos", "n_neg")

_GAP_NAMES = {"site_gap": "site_gap", "max_site_gap": "site_gap"}
_FUNCTIONS = {"noninferior": True, "superior": False, "equivalent": True}  # name -> margin required
_MAX_LENGTH = 2000
_MAX_DEPTH = 64

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:@[A-Za-z_][A-Za-z0-9_]*)?)"
    r"|(?P<op><=|>=|==|!=|<|>|\+|-|\*|/|\(|\)|,|=|\.)"
    r")"
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "number", "name", "op", "end"
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            bad = text[pos:].lstrip()[:1]
            where = pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise RuleSyntaxError(f"unexpected character {bad!r} at position {where} in rule {text!r}; "
                                  "rules use metric names, numbers, comparisons, and/or/not.", position=where)
        kind = m.lastgroup or "op"
        start = m.start(kind)
        tokens.append(_Token(kind, m.group(kind), start))
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# ---- syntax tree --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Number:
    value: float

    def __str__(self) -> str:
        return repr(self.value)


@dataclass(frozen=True, slots=True)
class _Ref:
    metric: str
    field: str
    pos: int
    gap: bool = False

    def __str__(self) -> str:
        return f"site_gap.{self.metric}" if self.gap else f"{self.metric}.{self.field}"


@dataclass(frozen=True, slots=True)
class _Neg:
    operand: Any

    def __str__(self) -> str:
        return f"(-{self.operand})"


@dataclass(frozen=True, slots=True)
class _Arith:
    op: str
    left: Any
    right: Any

    def __str__(self) -> str:
        return f"({self.left} {self.op} {self.right})"


@dataclass(frozen=True, slots=True)
class _Compare:
    op: str
    left: Any
    right: Any

    def __str__(self) -> str:
        return f"({self.left} {self.op} {self.right})"


@dataclass(frozen=True, slots=True)
class _Logic:
    op: str  # "and" | "or"
    operands: tuple

    def __str__(self) -> str:
        return "(" + f" {self.op} ".join(str(o) for o in self.operands) + ")"


@dataclass(frozen=True, slots=True)
class _Not:
    operand: Any

    def __str__(self) -> str:
        return f"(not {self.operand})"


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    metric: str
    pos: int
    reference: Any
    margin: Any

    def __str__(self) -> str:
        return f"{self.name}({self.metric}, reference={self.reference}, margin={self.margin})"


_BOOL_NODES = (_Compare, _Logic, _Not, _Call)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    # helpers
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, message: str, tok: _Token | None = None) -> RuleSyntaxError:
        tok = tok or self.peek()
        found = "end of rule" if tok.kind == "end" else repr(tok.text)
        return RuleSyntaxError(f"{message} at position {tok.pos} (found {found}) in rule {self.text!r}",
                               position=tok.pos)

    def expect(self, text: str) -> _Token:
        tok = self.peek()
        if tok.text != text or tok.kind == "end":
            raise self.error(f"expected {text!r}")
        return self.take()

    def nest(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"rule nests deeper than {_MAX_DEPTH} levels")

    # grammar
    def parse(self) -> Any:
        node = self.or_expr()
        if self.peek().kind != "end":
            raise self.error("unexpected text after a complete rule")
        if not isinstance(node, _BOOL_NODES):
            raise RuleSyntaxError(f"rule {self.text!r} is a number, not a condition; compare it, e.g. "
                                  "'auroc.ci_low >= 0.80'.", position=0)
        return node

    def _bool(self, node: Any, tok: _Token, word: str) -> Any:
        if not isinstance(node, _BOOL_NODES):
            raise self.error(f"'{word}' needs conditions on both sides, not a number", tok)
        return node

    def or_expr(self) -> Any:
        self.nest()
        first_tok = self.peek()
        parts = [self.and_expr()]
        while self.peek().kind == "name" and self.peek().text == "or":
            tok = self.take()
            self._bool(parts[0], first_tok, "or")
            parts.append(self._bool(self.and_expr(), tok, "or"))
        self.depth -= 1
        return parts[0] if len(parts) == 1 else _Logic("or", tuple(parts))

    def and_expr(self) -> Any:
        first_tok = self.peek()
        parts = [self.not_expr()]
        while self.peek().kind == "name" and self.peek().text == "and":
            tok = self.take()
            self._bool(parts[0], first_tok, "and")
            parts.append(self._bool(self.not_expr(), tok, "and"))
        return parts[0] if len(parts) == 1 else _Logic("and", tuple(parts))

    def not_expr(self) -> Any:
        tok = self.peek()
        if tok.kind == "name" and tok.text == "not":
            self.take()
            self.nest()
            operand = self._bool(self.not_expr(), tok, "not")
            self.depth -= 1
            return _Not(operand)
        return self.comparison()

    def comparison(self) -> Any:
        left = self.sum()
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("<", "<=", ">", ">=", "==", "!="):
            self.take()
            if isinstance(left, _BOOL_NODES):
                raise self.error("cannot compare a condition with a number", tok)
            right_tok = self.peek()
            right = self.sum()
            if isinstance(right, _BOOL_NODES):
                raise self.error("cannot compare a number with a condition", right_tok)
            nxt = self.peek()
            if nxt.kind == "op" and nxt.text in ("<", "<=", ">", ">=", "==", "!="):
                raise self.error("chained comparisons are not allowed; write 'a < b and b < c'", nxt)
            return _Compare(tok.text, left, right)
        return left

    def sum(self) -> Any:
        node = self.product()
        while self.peek().kind == "op" and self.peek().text in ("+", "-"):
            tok = self.take()
            right = self.product()
            self._num(node, tok)
            self._num(right, tok)
            node = _Arith(tok.text, node, right)
        return node

    def product(self) -> Any:
        node = self.unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/"):
            tok = self.take()
            right = self.unary()
            self._num(node, tok)
            self._num(right, tok)
            node = _Arith(tok.text, node, right)
        return node

    def _num(self, node: Any, tok: _Token) -> None:
        if isinstance(node, _BOOL_NODES):
            raise self.error(f"arithmetic '{tok.text}' on a condition", tok)

    def unary(self) -> Any:
        tok = self.peek()
        if tok.kind == "op" and tok.text == "-":
            self.take()
            self.nest()
            operand = self.unary()
            self.depth -= 1
            self._num(operand, tok)
            return _Neg(operand)
        return self.primary()

    def primary(self) -> Any:
        tok = self.peek()
        if tok.kind == "number":
            self.take()
            return _Number(float(tok.text))
        if tok.kind == "op" and tok.text == "(":
            self.take()
            node = self.or_expr()
            self.expect(")")
            return node
        if tok.kind == "name":
            if tok.text in ("and", "or", "not"):
                raise self.error(f"'{tok.text}' needs a condition before it")
            self.take()
            if self.peek().kind == "op" and self.peek().text == "(":
                return self.call(tok)
            return self.reference(tok)
        raise self.error("expected a number, a metric name or '('")

    def _metric_name(self, tok: _Token) -> str:
        name = tok.text
        if "@" in name:
            base, qualifier = name.split("@", 1)
            if qualifier != "threshold":
                raise self.error("the only metric qualifier is '@threshold'", tok)
            return base
        return name

    def reference(self, tok: _Token) -> _Ref:
        if tok.text in _GAP_NAMES:
            self.expect(".")
            metric_tok = self.take()
            if metric_tok.kind != "name":
                raise self.error(f"'{tok.text}.' must be followed by a metric name", metric_tok)
            return _Ref(self._metric_name(metric_tok), "gap", metric_tok.pos, gap=True)
        if tok.text in _FUNCTIONS:
            raise self.error(f"'{tok.text}' is a function; call it as {tok.text}(metric, reference=..., margin=...)",
                             tok)
        metric = self._metric_name(tok)
        if self.peek().kind == "op" and self.peek().text == ".":
            self.take()
            field_tok = self.take()
            if field_tok.kind != "name":
                raise self.error(f"expected a field name after '{metric}.'", field_tok)
            return _Ref(metric, field_tok.text, tok.pos)
        return _Ref(metric, "estimate", tok.pos)

    def call(self, name_tok: _Token) -> _Call:
        name = name_tok.text
        if name not in _FUNCTIONS:
            raise self.error(f"unknown function {name!r}; available: {sorted(_FUNCTIONS)}", name_tok)
        self.expect("(")
        metric_tok = self.take()
        if metric_tok.kind != "name" or metric_tok.text in _GAP_NAMES:
            raise self.error(f"{name}() takes a metric name first, e.g. {name}(auroc, reference=0.85, margin=0.05)",
                             metric_tok)
        metric = self._metric_name(metric_tok)
        kwargs: dict[str, Any] = {}
        while self.peek().text == ",":
            self.take()
            key_tok = self.take()
            if key_tok.kind != "name" or key_tok.text not in ("reference", "margin"):
                raise self.error(f"{name}() accepts only reference=... and margin=...", key_tok)
            if key_tok.text in kwargs:
                raise self.error(f"{key_tok.text} given twice", key_tok)
            self.expect("=")
            value_tok = self.peek()
            value = self.sum()
            self._num(value, value_tok)
            kwargs[key_tok.text] = value
        self.expect(")")
        if "reference" not in kwargs:
            raise self.error(f"{name}() needs reference=<value>", name_tok)
        if "margin" not in kwargs:
            if _FUNCTIONS[name]:
                raise self.error(f"{name}() needs margin=<value>", name_tok)
            kwargs["margin"] = _Number(0.0)
        return _Call(name, metric, metric_tok.pos, kwargs["reference"], kwargs["margin"])


def _walk(node: Any) -> Iterable[Any]:
    yield node
    if isinstance(node, (_Arith, _Compare)):
        yield from _walk(node.left)
        yield from _walk(node.right)
    elif isinstance(node, (_Neg, _Not)):
        yield from _walk(node.operand)
    elif isinstance(node, _Logic):
        for o in node.operands:
            yield from _walk(o)
    elif isinstance(node, _Call):
        yield from _walk(node.reference)
        yield from _walk(node.margin)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A parsed acceptance rule.

    Attributes
    ----------
    text : str
        The rule as written.
    canonical : str
        Fully parenthesised form, independent of spacing (stable for hashing a protocol).
    metrics : frozenset of str
        Metric names the rule reads (``site_gap.auroc`` counts as ``auroc``).
    references : tuple of str
        Every value the rule reads, e.g. ``("auroc.ci_low", "site_gap.auroc")``.
    """

    text: str
    tree: Any = field(repr=False, compare=False)
    canonical: str = ""
    metrics: frozenset = frozenset()
    references: tuple = ()


def parse_rule(text: str, *, known: Iterable[str] | None = None) -> Rule:
    """Parse an acceptance rule; with ``known``, also check its metric names (see :func:`check_rule_names`).

    Raises
    ------
    RuleSyntaxError
        With the position of the problem and what was expected.
    UnknownMetricError
        If ``known`` is given and the rule names a metric or field not in it.

    Examples
    --------
    >>> r = parse_rule("sensitivity.ci_low >= 0.85 and specificity.ci_low >= 0.80")
    >>> sorted(r.metrics)
    ['sensitivity', 'specificity']
    """
    if not isinstance(text, str):
        raise RuleSyntaxError(f"a rule must be a string; got {type(text).__name__}.")
    if len(text) > _MAX_LENGTH:
        raise RuleSyntaxError(f"rule is {len(text)} characters long; the limit is {_MAX_LENGTH}.")
    if not text.strip():
        raise RuleSyntaxError("rule is empty; write a condition such as 'auroc.ci_low >= 0.80'.")
    tree = _Parser(text).parse()
    refs: list[str] = []
    metrics: set[str] = set()
    for node in _walk(tree):
        if isinstance(node, _Ref):
            refs.append(str(node))
            metrics.add(node.metric)
        elif isinstance(node, _Call):
            refs.extend([f"{node.metric}.ci_low", f"{node.metric}.ci_high"] if node.name == "equivalent"
                        else [f"{node.metric}.ci_low"])
            metrics.add(node.metric)
    rule = Rule(text=text, tree=tree, canonical=str(tree), metrics=frozenset(metrics),
                references=tuple(dict.fromkeys(refs)))
    if known is not None:
        check_rule_names(rule, known)
    return rule


def check_rule_names(rule: Rule | str, known: Iterable[str] = KNOWN_METRICS) -> Rule:
    """Check that a rule only names known metrics and fields; for use when a protocol is published.

    Parameters
    ----------
    rule : Rule or str
        The rule (parsed if a string).
    known : iterable of str
        Metric names available in the protocol (default: every metric this package computes).

    Returns
    -------
    Rule
        The parsed rule, so that callers can keep it.

    Raises
    ------
    UnknownMetricError
        Naming every unknown metric or field, with close matches as suggestions.
    """
    if isinstance(rule, str):
        rule = parse_rule(rule)
    known_set = set(known)
    problems = []
    for node in _walk(rule.tree):
        if isinstance(node, (_Ref, _Call)):
            if node.metric not in known_set:
                hint = difflib.get_close_matches(node.metric, sorted(known_set), n=1)
                problems.append(f"unknown metric {node.metric!r} at position {node.pos}"
                                + (f" (did you mean {hint[0]!r}?)" if hint else ""))
            if isinstance(node, _Ref) and not node.gap and node.field not in ESTIMATE_FIELDS:
                hint = difflib.get_close_matches(node.field, ESTIMATE_FIELDS, n=1)
                problems.append(f"unknown field {node.field!r} of {node.metric!r}"
                                + (f" (did you mean {hint[0]!r}?)" if hint else f"; fields: {ESTIMATE_FIELDS}"))
    if problems:
        raise UnknownMetricError(f"rule {rule.text!r}: " + "; ".join(problems)
                                 + f". Known metrics: {sorted(known_set)}.")
    return rule


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The outcome of one rule on one set of results.

    Attributes
    ----------
    rule : str
        Rule text.
    status : str
        ``"pass"``, ``"fail"`` or ``"undetermined"`` (a value it needs is missing or NaN).
    passed : bool
        True only for ``"pass"``.
    values : dict
        Every value the rule read, by reference (e.g. ``{"auroc.ci_low": 0.83}``); NaN if missing.
    detail : str
        Human-readable account of the deciding comparisons, e.g. ``"auroc.ci_low = 0.83 >= 0.8: true"``.
    """

    rule: str
    status: str
    passed: bool
    values: dict
    detail: str


def _lookup(results: Mapping[str, Any], ref: _Ref) -> float:
    if ref.gap:
        gaps = results.get("site_gap")
        value = gaps.get(ref.metric) if isinstance(gaps, Mapping) else None
        if value is None:
            value = results.get(f"site_gap.{ref.metric}")
        return _as_float(value)
    item = results.get(ref.metric)
    if item is None:
        return math.nan
    if isinstance(item, Mapping):
        return _as_float(item.get(ref.field))
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return float(item) if ref.field == "estimate" else math.nan
    return _as_float(getattr(item, ref.field, None))


def _as_float(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


_CMP = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def _fmt(x: float) -> str:
    return "missing" if math.isnan(x) else f"{x:.6g}"


class _Evaluator:
    def __init__(self, results: Mapping[str, Any]) -> None:
        self.results = results
        self.values: dict[str, float] = {}
        self.lines: list[str] = []

    def num(self, node: Any) -> float:
        if isinstance(node, _Number):
            return node.value
        if isinstance(node, _Ref):
            v = _lookup(self.results, node)
            self.values[str(node)] = v
            return v
        if isinstance(node, _Neg):
            return -self.num(node.operand)
        if isinstance(node, _Arith):
            a, b = self.num(node.left), self.num(node.right)
            if node.op == "+":
                return a + b
            if node.op == "-":
                return a - b
            if node.op == "*":
                return a * b
            return a / b if b != 0 else math.nan
        raise TypeError(node)  # unreachable: the parser type-checks

    def truth(self, node: Any) -> bool | None:
        if isinstance(node, _Compare):
            a, b = self.num(node.left), self.num(node.right)
            result = None if (math.isnan(a) or math.isnan(b)) else _CMP[node.op](a, b)
            self.lines.append(f"{_describe(node.left, a)} {node.op} {_describe(node.right, b)}: {_tv(result)}")
            return result
        if isinstance(node, _Not):
            v = self.truth(node.operand)
            return None if v is None else not v
        if isinstance(node, _Logic):
            vals = [self.truth(o) for o in node.operands]
            if node.op == "and":
                return False if False in vals else (None if None in vals else True)
            return True if True in vals else (None if None in vals else False)
        if isinstance(node, _Call):
            return self.call(node)
        raise TypeError(node)  # unreachable

    def call(self, node: _Call) -> bool | None:
        ref_value = self.num(node.reference)
        margin = self.num(node.margin)
        low = _lookup(self.results, _Ref(node.metric, "ci_low", node.pos))
        self.values[f"{node.metric}.ci_low"] = low
        if node.name == "equivalent":
            high = _lookup(self.results, _Ref(node.metric, "ci_high", node.pos))
            self.values[f"{node.metric}.ci_high"] = high
            lo_b, hi_b = ref_value - margin, ref_value + margin
            known = not any(math.isnan(x) for x in (low, high, lo_b, hi_b))
            result = (lo_b < low and high < hi_b) if known else None
            self.lines.append(f"equivalent: {_fmt(lo_b)} < {node.metric}.ci_low = {_fmt(low)} and "
                              f"{node.metric}.ci_high = {_fmt(high)} < {_fmt(hi_b)}: {_tv(result)}")
            return result
        bound = ref_value - margin if node.name == "noninferior" else ref_value + margin
        result = None if (math.isnan(low) or math.isnan(bound)) else low > bound
        sign = "-" if node.name == "noninferior" else "+"
        self.lines.append(f"{node.name}: {node.metric}.ci_low = {_fmt(low)} > {_fmt(ref_value)} {sign} "
                          f"{_fmt(margin)} = {_fmt(bound)}: {_tv(result)}")
        return result


def _describe(node: Any, value: float) -> str:
    if isinstance(node, _Number):
        return _fmt(value)
    return f"{node} = {_fmt(value)}"


def _tv(v: bool | None) -> str:
    return "unknown" if v is None else ("true" if v else "false")


def evaluate_rules(rules: Iterable[Rule | str], results: Mapping[str, Any]) -> list["Verdict"]:
    """Evaluate acceptance rules against results, one verdict per rule, in order.

    Parameters
    ----------
    rules : iterable of Rule or str
        Rules (strings are parsed; parse and check them at publish time with :func:`check_rule_names`).
    results : mapping
        ``{metric name: Estimate | mapping of fields | number, "site_gap": {metric name: number}}``.

    Returns
    -------
    list of Verdict

    Examples
    --------
    >>> from evaluators import Estimate
    >>> v = evaluate_rules(["auroc.ci_low >= 0.80"], {"auroc": Estimate(estimate=0.9, ci_low=0.85, ci_high=0.93)})
    >>> v[0].status, v[0].detail
    ('pass', 'auroc.ci_low = 0.85 >= 0.8: true')
    """
    verdicts = []
    for rule in rules:
        if isinstance(rule, str):
            rule = parse_rule(rule)
        ev = _Evaluator(results)
        outcome = ev.truth(rule.tree)
        status = "undetermined" if outcome is None else ("pass" if outcome else "fail")
        verdicts.append(Verdict(rule=rule.text, status=status, passed=outcome is True, values=dict(ev.values),
                                detail="; ".join(ev.lines)))
    return verdicts
