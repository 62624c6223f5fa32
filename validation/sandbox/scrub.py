"""Scrub captured model output of case data before anyone reads it."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["scrub_text"]

_TOKEN = re.compile(r"[A-Za-z0-9_.:\-]+")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d{4,})(?:[eE][-+]?\d+)?")
_LINE_NO = re.compile(r"line (\d+)")


def scrub_text(text: str, *, case_ids: Iterable[str] = (), paths: Iterable[str] = ()) -> str:
    """Replace case ids, input paths and numbers in ``text`` by placeholders.

    Parameters
    ----------
    text : str
        Captured stdout/stderr of a model.
    case_ids : iterable of str
        Case ids of the run; each whole-token occurrence becomes ``<case_id>``.
    paths : iterable of str
        Path prefixes (e.g. ``/input``) whose occurrences, with the rest of the path, become
        ``<path>``.

    Returns
    -------
    str
        The scrubbed text. Decimal numbers and integers of four or more digits become ``<n>``
        (traceback line numbers are kept).

    Examples
    --------
    >>> scrub_text("case P-17 scored 0.93", case_ids=["P-17"])
    'case <case_id> scored <n>'
    """
    if not text:
        return text
    for prefix in paths:
        if prefix:
            text = re.sub(re.escape(prefix) + r"[^\s'\"]*", "<path>", text)
    ids = {str(c) for c in case_ids}
    if ids:
        text = _TOKEN.sub(lambda m: "<case_id>" if m.group(0) in ids else m.group(0), text)
    kept: dict[str, str] = {}

    def _keep(match: re.Match[str]) -> str:
        key = f"\x00{len(kept)}\x00"
        kept[key] = match.group(0)
        return key

    text = _LINE_NO.sub(_keep, text)
    text = _NUMBER.sub("<n>", text)
    for key, value in kept.items():
        text = text.replace(key, value)
    return text
