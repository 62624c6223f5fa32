"""Free-text PHI scanner: removes known tokens of a patient and PHI-shaped patterns.

A :class:`FreeTextScanner` is built from the PHI tokens harvested for one
patient (name parts, address lines, city, postal code, phone numbers,
identifier values, birth date in common formats) and always applies patterns
for e-mail addresses, phone numbers, US SSNs, national-ID-like and long digit
runs and letter-plus-digits IDs. Matches are replaced by ``[REDACTED]``, which
itself never matches, so scanning is idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["FreeTextScanner", "REDACTED", "PHI_PATTERNS"]

REDACTED = "[REDACTED]"

PHI_PATTERNS: tuple[str, ...] = (
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # e-mail
    r"(?<![\w.])\d{3}-\d{2}-\d{4}(?![\w])",  # US SSN shape
    r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])\d{3,4}[\s.-]?\d{3,4}(?![\w.])",  # phone
    r"(?<![\w.])\d{7,}[Xx]?(?![\w.])",  # long digit runs: MRNs, national IDs, bare phone numbers
    r"(?<![\w.])[A-Za-z]{1,3}\d{6,}(?![\w.])",  # letter+digits IDs (licences, passports)
)


_TRIGGER = re.compile(r"[\d@]")  # every PHI pattern needs a digit (of any script, as \d in the patterns) or "@"
_PHI_TRIGGER = re.compile(r"@|\d{3}")  # ... and in fact an "@" or three digits in a row (see PHI_PATTERNS)
_PHI_ONLY: list = []  # the PHI patterns alone (no patient's tokens), compiled once at first use


def _phi_only() -> re.Pattern:
    if not _PHI_ONLY:
        _PHI_ONLY.append(re.compile("|".join(PHI_PATTERNS), re.IGNORECASE))
    return _PHI_ONLY[0]


# The non-ASCII characters that re's case-insensitive matching equates with an ASCII one (dotted capital I,
# dotless i, long s, Kelvin sign); no other non-ASCII character ever matches ASCII text.
_ASCII_LOOKALIKES = frozenset("\u0130\u0131\u017f\u212a")


def _plain_in_ascii(token: str) -> bool:
    """Whether, in ASCII text, ``token`` matches case-insensitively only where its lower-case form is a substring:
    an ASCII token, or one with a character that can match no ASCII character (so it never matches there)."""
    return token.isascii() or any(not c.isascii() and c not in _ASCII_LOOKALIKES for c in token)


def _min_len(token: str) -> int:
    # ASCII tokens shorter than 3 would destroy ordinary words; a two-character CJK name is a full name.
    return 3 if token.isascii() else 2


class FreeTextScanner:
    """Redact known PHI tokens and PHI-shaped patterns from free-text strings.

    Parameters
    ----------
    tokens : iterable of str
        Exact strings known to be PHI for this patient (matched case-insensitively,
        on word boundaries for ASCII tokens, anywhere for others since CJK text has
        no spaces). ASCII tokens shorter than 3 characters and other tokens shorter
        than 2 are ignored to avoid destroying ordinary words.

    Examples
    --------
    >>> s = FreeTextScanner(["Stamm704", "Todd315"])
    >>> s.clean("Todd315 Stamm704 called from 555-788-5466 about fever")
    '[REDACTED] [REDACTED] called from [REDACTED] about fever'
    >>> s.clean(s.clean("mail jo@example.org")) == s.clean("mail jo@example.org")
    True
    """

    __slots__ = ("_pattern", "_regex", "_lower", "_plain", "_ascii", "_memo")

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        toks = sorted({t.strip() for t in tokens if t and len(t.strip()) >= _min_len(t.strip())}, key=len, reverse=True)
        parts = [
            rf"(?<!\w){re.escape(t)}(?!\w)" if t.isascii() else re.escape(t)  # CJK text has no word gaps
            for t in toks
        ] + list(PHI_PATTERNS)
        # Compiled at the first text that needs it (about a millisecond per patient, and most texts never do).
        self._pattern = "|".join(parts)
        self._regex: re.Pattern | None = None
        self._lower = tuple(t.lower() for t in toks)
        self._plain = all(_plain_in_ascii(t) for t in toks)
        self._ascii = all(t.isascii() for t in toks)
        self._memo: dict[str, str] = {}

    def clean(self, text: str) -> str:
        """Return ``text`` with every match replaced by ``[REDACTED]``."""
        hit = self._memo.get(text)
        if hit is not None:
            return hit
        out = self._clean(text)
        if len(self._memo) < 50_000:
            self._memo[text] = out
        return out

    def _clean(self, text: str) -> str:
        # Fast path: every pattern needs a digit or '@'; tokens are checked as substrings first.
        if _TRIGGER.search(text) is None:
            # No PHI pattern can match: only tokens can, and they match only where their lower-case form is a
            # substring when the text is ASCII (and the tokens plain, see _plain_in_ascii), or when the tokens
            # are ASCII and the text has none of the four characters re equates with ASCII ones. Any other text
            # (e.g. a Greek final sigma against a sigma, or a long s against an s) goes through the pattern.
            if (self._plain if text.isascii() else self._ascii and _ASCII_LOOKALIKES.isdisjoint(text)) and not any(
                map(text.lower().__contains__, self._lower)
            ):
                return text
        elif self._plain and text.isascii():
            # Digits, but when no PHI pattern matches anywhere (none can without an "@" or three digits in a
            # row) only tokens could, and in ASCII text these tokens match only where their lower-case form is
            # a substring (_plain_in_ascii). The patient's own pattern is then not needed.
            if _PHI_TRIGGER.search(text) is None or _phi_only().search(text) is None:
                if not any(map(text.lower().__contains__, self._lower)):
                    return text
        regex = self._regex
        if regex is None:
            regex = self._regex = re.compile(self._pattern, re.IGNORECASE)
        return regex.sub(REDACTED, text)
