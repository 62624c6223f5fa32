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
    # called once per JSON object (a C call to a C function in the compiled build, see fhir_json.pxd)
    out = dict(pairs)
    if len(out) != len(pairs):
        raise StrictJsonError(QuarantineReason.DUPLICATE_KEY, "a JSON object repeats a key")
    return out


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
        return json.loads(data, object_pairs_hook=_no_duplicates)
    except StrictJsonError:
        raise
    except RecursionError:
        raise StrictJsonError(QuarantineReason.NESTING_TOO_DEEP, "JSON nested too deeply to parse") from None
    except (ValueError, TypeError) as exc:
        raise StrictJsonError(
            QuarantineReason.UNREADABLE, f"not valid JSON ({type(exc).__name__})"
        ) from None
