"""Strict JSON loading for FHIR input: duplicate keys and runaway nesting are refused.

``json.loads`` silently keeps the last of two equal keys, so two readers of the
same bytes can disagree about a resource; a strict reader refuses such input.
Nesting deeper than the interpreter can parse raises ``RecursionError`` inside
the decoder; both become :class:`StrictJsonError` with a PHI-free reason.
"""

from __future__ import annotations

import json
from typing import Any

from datasets.deid.quarantine import QuarantineReason

__all__ = ["StrictJsonError", "loads_strict"]


class StrictJsonError(ValueError):
    """The document is not strict JSON; ``reason`` says why (a :class:`QuarantineReason`)."""

    def __init__(self, reason: QuarantineReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Called once per JSON object. A loop rather than dict(pairs): most objects have one to three members,
    # and the loop (direct dict stores in the compiled build, see fhir_json.pxd) skips dict()'s generic
    # sequence protocol; in pure Python it is as fast.
    out = {}
    for k, v in pairs:
        out[k] = v
    if len(out) != len(pairs):
        raise StrictJsonError(QuarantineReason.DUPLICATE_KEY, "a JSON object repeats a key")
    return out


_WS = " \t\n\r"  # JSON whitespace (RFC 8259), what json.decoder.WHITESPACE matches
_SCANNERS: list = []  # the strict scanner, made at the first parse (no work at import time)


def _scanner() -> Any:
    # One decoder for every document: json.loads(..., object_pairs_hook=...) builds a new JSONDecoder and
    # C scanner per call, which costs as much as parsing a small NDJSON line. The scanner clears its key
    # memo after every document (also on errors), so sharing it changes nothing.
    if not _SCANNERS:
        _SCANNERS.append(json.JSONDecoder(object_pairs_hook=_no_duplicates).scan_once)
    return _SCANNERS[0]


def loads_strict(data: str | bytes | bytearray) -> Any:
    """Parse JSON, refusing duplicate keys, excessive nesting and invalid UTF-8.

    Parameters
    ----------
    data : str or bytes
        One JSON document.

    Returns
    -------
    object
        The parsed value.

    Raises
    ------
    StrictJsonError
        With ``reason`` DUPLICATE_KEY, NESTING_TOO_DEEP or UNREADABLE.

    Examples
    --------
    >>> loads_strict('{"a": 1}')
    {'a': 1}
    >>> loads_strict('{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    datasets.deid.fhir_json.StrictJsonError: a JSON object repeats a key
    """
    try:
        # json.loads(data, object_pairs_hook=_no_duplicates), step by step with one shared scanner: the same
        # input checks, decoding, whitespace rule and errors (JSONDecodeError, TypeError, UnicodeDecodeError).
        if isinstance(data, str):
            if data.startswith("\ufeff"):
                raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", data, 0)
            text = data
        elif isinstance(data, (bytes, bytearray)):
            text = data.decode(json.detect_encoding(data), "surrogatepass")
        else:
            raise TypeError(f"the JSON object must be str, bytes or bytearray, not {type(data).__name__}")
        start = 0
        if text and text[0] in _WS:
            start = len(text) - len(text.lstrip(_WS))
        try:
            value, end = _scanner()(text, start)
        except StopIteration as err:
            raise json.JSONDecodeError("Expecting value", text, err.value) from None
        if end != len(text) and text[end:].strip(_WS):
            raise json.JSONDecodeError("Extra data", text, end)
        return value
    except StrictJsonError:
        raise
    except RecursionError:
        raise StrictJsonError(QuarantineReason.NESTING_TOO_DEEP, "JSON nested too deeply to parse") from None
    except (ValueError, TypeError) as exc:
        raise StrictJsonError(
            QuarantineReason.UNREADABLE, f"not valid JSON ({type(exc).__name__})"
        ) from None
