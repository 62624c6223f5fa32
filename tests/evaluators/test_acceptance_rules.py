"""Acceptance rules: parsing, errors with positions, publish-time name checks, verdicts with their numbers."""

from __future__ import annotations

import math

import pytest

from evaluators import (
    KNOWN_METRICS,
    Estimate,
    RuleSyntaxError,
    UnknownMetricError,
    check_rule_names,
    evaluate_rules,
    parse_rule,
)

RESULTS = {
    "auroc": Estimate(estimate=0.90, ci_low=0.84, ci_high=0.95, n=500, n_pos=200, n_neg=300),
    "sensitivity": Estimate(estimate=0.91, ci_low=0.86, ci_high=0.95),
    "specificity": {"estimate": 0.85, "ci_low": 0.79, "ci_high": 0.9},
    "brier": 0.12,
    "site_gap": {"auroc": 0.07},
}


def verdict(rule, results=RESULTS):
    (v,) = evaluate_rules([rule], results)
    return v


def test_issue_examples():
    assert verdict("auroc.ci_low >= 0.80").status == "pass"
    v = verdict("sensitivity.ci_low >= 0.85 and specificity.ci_low >= 0.80")
    assert v.status == "fail" and not v.passed
    assert v.values == {"sensitivity.ci_low": 0.86, "specificity.ci_low": 0.79}
    assert "specificity.ci_low = 0.79 >= 0.8: false" in v.detail
    assert verdict("site_gap.auroc <= 0.10").values == {"site_gap.auroc": 0.07}
    v = verdict("noninferior(auroc, reference=0.85, margin=0.05)")
    assert v.status == "pass" and v.values == {"auroc.ci_low": 0.84}
    assert "0.84 > 0.85 - 0.05 = 0.8" in v.detail


def test_functions_decide_on_ci_bounds():
    assert verdict("noninferior(auroc, reference=0.90, margin=0.05)").status == "fail"  # 0.84 <= 0.85
    assert verdict("superior(auroc, reference=0.80)").status == "pass"
    assert verdict("superior(auroc, reference=0.80, margin=0.05)").status == "fail"
    assert verdict("equivalent(auroc, reference=0.9, margin=0.07)").status == "pass"
    assert verdict("equivalent(auroc, reference=0.9, margin=0.05)").status == "fail"


def test_arithmetic_precedence_and_logic():
    assert verdict("auroc.ci_high - auroc.ci_low < 0.1 + 0.02 * 2").status == "pass"  # 0.11 < 0.14
    assert verdict("not auroc.ci_low >= 0.85").status == "pass"
    assert verdict("auroc >= 0.95 or brier < 0.2").status == "pass"  # bare metric reads estimate
    assert verdict("-auroc.estimate < -0.8").status == "pass"
    assert parse_rule("a.ci_low >= 1 or b.ci_low >= 1 and c.ci_low >= 1").canonical == \
        "((a.ci_low >= 1.0) or ((b.ci_low >= 1.0) and (c.ci_low >= 1.0)))"


def test_missing_values_are_undetermined_not_errors():
    v = verdict("ppv.ci_low >= 0.5")
    assert v.status == "undetermined" and not v.passed and math.isnan(v.values["ppv.ci_low"])
    assert "missing" in v.detail
    # Kleene logic: a false conjunct decides; a true disjunct decides
    assert verdict("ppv.ci_low >= 0.5 and auroc.ci_low >= 0.9").status == "fail"
    assert verdict("ppv.ci_low >= 0.5 or auroc.ci_low >= 0.8").status == "pass"
    nan_result = {"auroc": Estimate.undefined("undefined: needs both classes")}
    assert verdict("auroc.ci_low >= 0.8", nan_result).status == "undetermined"
    assert verdict("auroc.ci_low / 0 > 1").status == "undetermined"


def test_threshold_qualifier_and_gap_alias():
    assert verdict("sensitivity@threshold.ci_low >= 0.85").status == "pass"
    assert verdict("max_site_gap.auroc <= 0.10").status == "pass"
    assert verdict("site_gap.auroc <= 0.05", {"site_gap.auroc": 0.07}).status == "fail"


def test_metrics_and_references():
    r = parse_rule("sensitivity.ci_low >= 0.85 and site_gap.auroc <= 0.1 and noninferior(f1, reference=1, margin=0)")
    assert r.metrics == frozenset({"sensitivity", "auroc", "f1"})
    assert r.references == ("sensitivity.ci_low", "site_gap.auroc", "f1.ci_low")


def test_canonical_ignores_spacing():
    assert parse_rule("auroc.ci_low>=0.80").canonical == parse_rule("  auroc.ci_low  >=  0.8 ").canonical


@pytest.mark.parametrize(
    ("text", "match", "position"),
    [
        ("auroc.ci_low >=", "expected a number", 15),
        ("auroc.ci_low >= 0.8 >= 0.7", "chained comparisons", 20),
        ("auroc.ci_low + 1", "is a number, not a condition", 0),
        ("auroc.ci_low >= 0.8 and 3", "needs conditions", 20),
        ("noninferior(auroc, reference=0.85)", "needs margin", 0),
        ("noninferior(auroc, margin=0.1)", "needs reference", 0),
        ("noninferior(auroc, reference=0.85, margin=0.1, foo=1)", "accepts only", 47),
        ("__import__('os').system('x')", "unexpected character", 11),
        ("open(auroc)", "unknown function", 0),
        ("auroc.ci_low >= 0.8)", "unexpected text", 19),
        ("(auroc.ci_low >= 0.8", r"expected '\)'", 20),
        ("auroc.ci_low $ 2", "unexpected character", 13),
        ("", "empty", 0),
        ("sensitivity@cutoff.ci_low > 1", "qualifier", 0),
        ("auroc.ci_low >= 0.8 and", "needs a condition|expected a number", 23),
    ],
)
def test_syntax_errors_say_where(text, match, position):
    with pytest.raises(RuleSyntaxError, match=match) as info:
        parse_rule(text)
    assert info.value.position == position


def test_deep_nesting_and_long_rules_refused():
    with pytest.raises(RuleSyntaxError, match="deeper"):
        parse_rule("(" * 100 + "auroc > 1" + ")" * 100)
    with pytest.raises(RuleSyntaxError, match="limit"):
        parse_rule("auroc > 1 and " * 300 + "auroc > 1")
    with pytest.raises(RuleSyntaxError, match="deeper"):
        parse_rule("not " * 100 + "auroc > 1")


def test_publish_time_name_checks():
    assert check_rule_names("auroc.ci_low >= 0.8").metrics == frozenset({"auroc"})
    with pytest.raises(UnknownMetricError, match="'aurc'.*did you mean 'auroc'"):
        check_rule_names("aurc.ci_low >= 0.8")
    with pytest.raises(UnknownMetricError, match="unknown field 'cilow'.*did you mean 'ci_low'"):
        parse_rule("auroc.cilow >= 0.8", known=KNOWN_METRICS)
    with pytest.raises(UnknownMetricError, match="'site_gap.dice'|unknown metric 'dice'"):
        check_rule_names("site_gap.dice <= 0.1", known=["auroc"])
    with pytest.raises(UnknownMetricError, match="unknown metric 'ppv'"):
        check_rule_names("noninferior(ppv, reference=0.5, margin=0.1)", known=["auroc"])


def test_known_metrics_cover_what_the_package_computes():
    assert {"auroc", "sensitivity", "specificity", "ppv", "npv", "brier", "ece", "dice", "hd95", "froc"} <= set(
        KNOWN_METRICS)


def test_rules_never_reach_python_eval(monkeypatch):
    import builtins

    def refuse(*_args, **_kwargs):
        raise AssertionError("eval/exec must not be used")

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    assert verdict("auroc.ci_low >= 0.80 and not site_gap.auroc > 0.1").status == "pass"
