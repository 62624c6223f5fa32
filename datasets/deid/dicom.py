"""DICOM de-identification per PS3.15 Annex E, table-driven, with quarantine instead of crashes.

One call, :func:`deidentify_dicom`, takes a dataset, a path or bytes and returns
a :class:`DicomResult` that holds either the de-identified dataset or a
:class:`~datasets.deid.quarantine.Quarantined` record. It never raises for bad
input data and never builds a path from anything inside the file.

What is done, in order:

1. read (``force=True``; unreadable/truncated -> quarantine);
2. gate: SOP Class in the allow-list, every UID made of digits and dots only,
   Burned In Annotation, Pixel Data length (native) or fragment structure
   (encapsulated);
3. walk every element, recursing into every sequence item (depth-limited):
   private groups removed (unless allow-listed), overlays (60xx) and curves
   (50xx) removed, Table E.1-1 actions applied as resolved by
   :mod:`datasets.deid.profile`; standard elements not in the table are kept
   untouched (their raw bytes, and so their character set, are preserved);
   public tags the DICOM data dictionary does not define are removed, since
   nothing vouches for what they hold;
4. Patient ID becomes the (site, MRN) pseudonym; every ``U`` UID is mapped by
   :meth:`Pseudonymizer.uid`, so references (Referenced SOP Instance UID, Frame
   of Reference UID, ...) stay resolvable; dates shift by the patient's offset;
5. Patient Identity Removed = YES, De-identification Method (Code Sequence,
   CID 7050), Longitudinal Temporal Information Modified = MODIFIED, and file
   meta consistent (Media Storage SOP Instance/Class UID, transfer syntax kept,
   source/receiving AE titles dropped).

Values we write are ASCII, valid in every Specific Character Set including
ISO 2022 multi-byte sets, GB18030 and UTF-8; values we keep are not re-encoded.

Running it again on its own output with the same secret gives the same bytes
(pseudonyms are self-authenticating, see :mod:`datasets.deid.pseudonym`).

References
----------
DICOM PS3.15 Annex E, Attribute Confidentiality Profiles. PS3.16 CID 7050.
"""

from __future__ import annotations

import copy
import datetime as _dt
import io
import os
import re
import struct
from dataclasses import dataclass
from typing import Any

from datasets.deid.dates import age_band, age_in_years, shift_da, shift_dt
from datasets.deid.descriptors import clean_descriptor
from datasets.deid.profile import (
    BURN_IN_RISK_MODALITIES,
    BURN_IN_RISK_SOP_CLASSES,
    Action,
    DeidOptions,
    ProfileRule,
)
from datasets.deid.pseudonym import Pseudonymizer
from datasets.deid.quarantine import Quarantined, QuarantineReason

__all__ = ["DicomResult", "deidentify_dicom", "METHOD_CODES"]

# PS3.16 CID 7050 De-identification Method (DCM codes).
METHOD_CODES: dict[str, tuple[str, str]] = {
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
    "modified_dates": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    "patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "device_identity": ("113109", "Retain Device Identity Option"),
    "safe_private": ("113111", "Retain Safe Private Option"),
}

_UTC_OFFSET = re.compile(r"^[+-]\d{4}$")
_UID_OK = re.compile(r"^[0-9.]{1,64}$")
_TEXT_VRS = frozenset({"LO", "SH", "ST", "LT", "UT", "UC"})
_NATIVE_TS = {
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
}
_PATIENT_ID = 0x00100020
_PIXEL_DATA = 0x7FE00010
_UNDEFINED = 0xFFFFFFFF
_META_DROP = frozenset({0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102})
_METHOD_TEXT = "PS3.15 E.1 Basic Profile (clinval)"


class _Stop(Exception):
    """Internal signal: quarantine with a reason."""

    def __init__(self, reason: QuarantineReason, detail: str) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True, kw_only=True)
class DicomResult:
    """Outcome of de-identifying one DICOM object: a clean dataset or a quarantine record.

    Exactly one of ``dataset`` and ``quarantined`` is set.

    Attributes
    ----------
    dataset : pydicom.Dataset or None
        The de-identified dataset, with consistent file meta.
    data : bytes or None
        The same dataset serialised as a DICOM Part 10 file (what the corpus stores).
    quarantined : Quarantined or None
        Why the object was kept out.
    patient_pseudonym : str or None
        The (site, MRN) pseudonym, shared with FHIR.
    date_shift_days : int or None
        Days added to every date (negative); 0 when the input was already de-identified with this key.
    age_band : str or None
        Subgroup attribute for the corpus index, e.g. ``"40-49"`` or ``"unknown"``.
    sex : str or None
        Patient's Sex as kept (``M``, ``F``, ``O`` or empty).
    """

    dataset: Any = None
    data: bytes | None = None
    quarantined: Quarantined | None = None
    patient_pseudonym: str | None = None
    date_shift_days: int | None = None
    age_band: str | None = None
    sex: str | None = None

    def __post_init__(self) -> None:
        if (self.dataset is None) == (self.quarantined is None):
            raise ValueError("DicomResult needs exactly one of dataset= or quarantined=")

    @property
    def ok(self) -> bool:
        """True when the object was de-identified (not quarantined)."""
        return self.quarantined is None

    def to_bytes(self) -> bytes:
        """The de-identified DICOM Part 10 file.

        Raises
        ------
        ValueError
            If the result is quarantined.
        """
        if self.data is None:
            raise ValueError("a quarantined result has no dataset to write; check result.ok first")
        return self.data


def deidentify_dicom(
    source: Any,
    *,
    pseudonymizer: Pseudonymizer,
    site: str,
    options: DeidOptions | None = None,
    patient_mrn: str | None = None,
) -> DicomResult:
    """De-identify one DICOM object per PS3.15 Annex E, or quarantine it.

    Parameters
    ----------
    source : pydicom.Dataset, str, os.PathLike or bytes
        The object. A dataset is deep-copied, never modified.
    pseudonymizer : Pseudonymizer
        Holds the secret; gives UIDs, patient pseudonyms and the date shift.
    site : str
        Site code (e.g. ``"H01"``); scopes the patient key (site, MRN).
    options : DeidOptions, optional
        Profile options and limits; defaults to ``DeidOptions()``.
    patient_mrn : str, optional
        The MRN to key the patient on; defaults to Patient ID (0010,0020), or
        the Study Instance UID when Patient ID is empty.

    Returns
    -------
    DicomResult
        ``result.dataset`` when de-identified, ``result.quarantined`` otherwise.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> from pydicom.uid import ExplicitVRLittleEndian
    >>> ds = Dataset()
    >>> ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    >>> ds.SOPInstanceUID = "1.2.3.4"
    >>> ds.PatientName = "Doe^Jane"
    >>> ds.PatientID = "MRN1"
    >>> ds.StudyDate = "20200301"
    >>> ds.Rows, ds.Columns, ds.BitsAllocated, ds.SamplesPerPixel = 1, 2, 8, 1
    >>> ds.PixelData = bytes(2)
    >>> r = deidentify_dicom(ds, pseudonymizer=Pseudonymizer(b"k" * 32), site="H01")
    >>> r.ok, str(r.dataset.PatientName), r.dataset.PatientIdentityRemoved
    (True, '', 'YES')
    >>> r.dataset.StudyDate == shift_da("20200301", r.date_shift_days)
    True
    """
    options = options or DeidOptions()
    try:
        return _deidentify(source, pseudonymizer, site, options, patient_mrn)
    except _Stop as stop:
        return DicomResult(quarantined=Quarantined(reason=stop.reason, detail=stop.detail))
    except RecursionError:
        return DicomResult(
            quarantined=Quarantined(
                reason=QuarantineReason.NESTING_TOO_DEEP,
                detail="sequences nested too deeply to parse; reduce nesting below the limit",
            )
        )
    except (EOFError, struct.error) as exc:
        return DicomResult(
            quarantined=Quarantined(
                reason=QuarantineReason.TRUNCATED, detail=f"file ends inside an element ({type(exc).__name__})"
            )
        )
    except Exception as exc:  # never crash on input data; never echo the message (may hold PHI)
        if type(exc).__module__.startswith("pydicom") or _raised_in_pydicom(exc):
            return DicomResult(
                quarantined=Quarantined(
                    reason=QuarantineReason.UNREADABLE,
                    detail=f"an element cannot be decoded ({type(exc).__name__})",
                )
            )
        return DicomResult(
            quarantined=Quarantined(
                reason=QuarantineReason.INTERNAL_ERROR,
                detail=f"unexpected {type(exc).__name__} while de-identifying; the object was not ingested",
            )
        )


def _raised_in_pydicom(exc: BaseException) -> bool:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last is not None and "pydicom" in last.tb_frame.f_code.co_filename


# ---------------------------------------------------------------------------- reading


def _read(source: Any):
    import pydicom
    from pydicom.errors import InvalidDicomError

    if isinstance(source, pydicom.Dataset):
        return copy.deepcopy(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        fp: Any = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        fp = os.fspath(source)
    else:
        raise TypeError(
            f"source must be a pydicom Dataset, a path or bytes, got {type(source).__name__}"
        )
    try:
        ds = pydicom.dcmread(fp, force=True)
    except InvalidDicomError:
        raise _Stop(QuarantineReason.UNREADABLE, "not a DICOM file (no valid preamble/meta or dataset)") from None
    except (EOFError, struct.error, OSError, ValueError, KeyError, TypeError, NotImplementedError) as exc:
        raise _Stop(QuarantineReason.UNREADABLE, f"cannot parse DICOM ({type(exc).__name__})") from None
    if len(ds) == 0:
        raise _Stop(QuarantineReason.UNREADABLE, "no data elements could be read")
    return ds


def _text(ds, keyword: str) -> str:
    try:
        v = ds.get(keyword)
    except Exception:
        return ""
    if v is None:
        return ""
    if not isinstance(v, str) and hasattr(v, "__iter__") and not hasattr(v, "family_name"):
        v = "\\".join(str(x) for x in v)
    return str(v).strip("\x00 ")


# ---------------------------------------------------------------------------- gates


def _check_uid_chars(value: str, keyword: str) -> None:
    if not _UID_OK.match(value):
        raise _Stop(
            QuarantineReason.INVALID_UID,
            f"{keyword} is not a UID (only digits and '.' allowed, at most 64 characters)",
        )


def _gate(ds, options: DeidOptions) -> None:
    sop_class = _text(ds, "SOPClassUID")
    if not sop_class:
        raise _Stop(QuarantineReason.UNKNOWN_SOP_CLASS, "SOP Class UID (0008,0016) is missing")
    _check_uid_chars(sop_class, "SOPClassUID")
    if sop_class not in options.supported_sop_classes:
        raise _Stop(
            QuarantineReason.UNKNOWN_SOP_CLASS,
            f"SOP Class {sop_class} is not in the supported allow-list; add it to "
            "DeidOptions.supported_sop_classes once its IOD has been reviewed",
        )
    burned = _text(ds, "BurnedInAnnotation").upper()
    if burned == "YES":
        raise _Stop(QuarantineReason.BURNED_IN_ANNOTATION, "Burned In Annotation is YES")
    if burned != "NO":
        modality = _text(ds, "Modality").upper()
        if sop_class in BURN_IN_RISK_SOP_CLASSES or modality in BURN_IN_RISK_MODALITIES:
            if options.pixels_clean is None or not options.pixels_clean(ds):
                raise _Stop(
                    QuarantineReason.BURNED_IN_ANNOTATION,
                    f"Burned In Annotation missing on a burn-in-risk object (modality {modality or 'missing'}); "
                    "pass DeidOptions.pixels_clean to vouch for clean pixels",
                )
    _check_pixel_data(ds)


def _check_pixel_data(ds) -> None:
    if _PIXEL_DATA not in ds:
        raise _Stop(
            QuarantineReason.TRUNCATED,
            "no Pixel Data (7FE0,0010): every supported SOP class is an image; the file is truncated or incomplete",
        )
    raw = ds.get_item(_PIXEL_DATA)
    value = raw.value
    if value is None:
        value = b""
    if not isinstance(value, (bytes, bytearray)):
        return  # already converted by a caller (e.g. a built dataset with arrays); trust the writer
    fm = getattr(ds, "file_meta", None)
    ts = str(getattr(fm, "TransferSyntaxUID", "") or "") if fm is not None else ""
    if ts and ts not in _NATIVE_TS:
        _check_fragments(bytes(value))
        return
    try:
        rows = int(ds.get("Rows") or 0)
        cols = int(ds.get("Columns") or 0)
        spp = int(ds.get("SamplesPerPixel") or 1)
        bits = int(ds.get("BitsAllocated") or 0)
        frames = int(str(ds.get("NumberOfFrames") or 1).strip() or 1)
    except (TypeError, ValueError):
        raise _Stop(QuarantineReason.PIXEL_DATA_LENGTH, "image pixel attributes are not integers") from None
    if rows <= 0 or cols <= 0 or bits <= 0 or frames <= 0:
        raise _Stop(QuarantineReason.PIXEL_DATA_LENGTH, "Rows, Columns, Bits Allocated or Number of Frames missing")
    pixels = rows * cols * frames
    if _text(ds, "PhotometricInterpretation").upper() == "YBR_FULL_422":
        expected_bits = pixels * 2 * bits
    else:
        expected_bits = pixels * spp * bits
    expected = (expected_bits + 7) // 8
    actual = len(value)
    if actual < expected or actual > expected + 1 + (expected & 1):
        raise _Stop(
            QuarantineReason.PIXEL_DATA_LENGTH,
            f"Pixel Data has {actual} bytes; Rows x Columns x Samples x Frames x Bits gives {expected}",
        )


def _check_fragments(buf: bytes) -> None:
    """Walk an encapsulated Pixel Data stream: items (FFFE,E000) with lengths that fit."""
    pos, n, size = 0, 0, len(buf)
    while pos + 8 <= size:
        group, elem, length = struct.unpack_from("<HHL", buf, pos)
        pos += 8
        if (group, elem) == (0xFFFE, 0xE0DD):
            break
        if (group, elem) != (0xFFFE, 0xE000) or length == _UNDEFINED or pos + length > size:
            raise _Stop(QuarantineReason.PIXEL_DATA_LENGTH, "encapsulated Pixel Data fragments are malformed or truncated")
        pos += length
        n += 1
    if n < 2:  # Basic Offset Table item + at least one fragment
        raise _Stop(QuarantineReason.PIXEL_DATA_LENGTH, "encapsulated Pixel Data has no fragments")


# ---------------------------------------------------------------------------- the walk

_DUMMY_TEXT = {
    "PN": "ANONYMIZED",
    "LO": "ANONYMIZED",
    "SH": "ANONYMIZED",
    "ST": "ANONYMIZED",
    "LT": "ANONYMIZED",
    "UT": "ANONYMIZED",
    "UC": "ANONYMIZED",
    "CS": "ANONYMIZED",
    "AE": "ANONYMIZED",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "AS": "000D",
    "DS": "0",
    "IS": "0",
    "UR": "",
}
_NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"})
_KNOWN_VRS = frozenset(
    {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV", "OW",
     "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UR", "US", "UT", "UV"}
)


class _Walk:
    __slots__ = ("table", "pseudo", "options", "shift", "patient", "safe_private")

    def __init__(self, table, pseudo: Pseudonymizer, options: DeidOptions, shift: int, patient: str) -> None:
        self.table = table
        self.pseudo = pseudo
        self.options = options
        self.shift = shift
        self.patient = patient
        self.safe_private = {(s.group, s.creator.strip(), s.offset) for s in options.safe_private}

    def dataset(self, ds, depth: int) -> None:
        if depth > self.options.max_sequence_depth:
            raise _Stop(
                QuarantineReason.NESTING_TOO_DEEP,
                f"sequences nested deeper than {self.options.max_sequence_depth} levels",
            )
        table = self.table
        for tag in list(ds.keys()):
            tag = int(tag)
            group = tag >> 16
            if group & 1:
                self._private(ds, tag, depth)
                continue
            if (group & 0xFF00) in (0x5000, 0x6000) or group in (0x0000, 0x0002):
                # curves, overlays; command (0000) and file meta (0002) groups do not belong in a dataset
                del ds[tag]
                continue
            raw = ds.get_item(tag)
            length = getattr(raw, "length", None)
            if length is not None and length != _UNDEFINED and isinstance(raw.value, bytes) and len(raw.value) < length:
                raise _Stop(QuarantineReason.TRUNCATED, f"file ends inside element ({group:04X},{tag & 0xFFFF:04X})")
            rule = table.get(tag)
            if rule is None:
                if tag == _PIXEL_DATA:
                    continue
                if not _is_standard(tag):  # undefined public tag: nothing vouches for its content
                    del ds[tag]
                    continue
                if self._is_sequence(ds, tag):
                    self._items(ds[tag], depth)
                continue
            self._apply(ds, tag, rule, depth)

    @staticmethod
    def _is_sequence(ds, tag: int) -> bool:
        raw = ds.get_item(tag)
        vr = getattr(raw, "VR", None)
        if vr == "SQ":
            return True
        if vr in (None, "UN"):
            from pydicom.datadict import dictionary_VR

            try:
                return dictionary_VR(tag) == "SQ"
            except KeyError:
                return False
        return False

    def _items(self, elem, depth: int) -> None:
        for item in elem.value or ():
            self.dataset(item, depth + 1)

    def _private(self, ds, tag: int, depth: int) -> None:
        if not self.safe_private:
            del ds[tag]
            return
        group, elem = tag >> 16, tag & 0xFFFF
        if elem < 0x0010:
            del ds[tag]  # group length / illegal
            return
        if elem <= 0x00FF:  # private creator: keep only if something of its block is allowed
            creator = _text_value(ds[tag].value)
            if not any(g == group and c == creator for g, c, _ in self.safe_private):
                del ds[tag]
            return
        block = elem >> 8
        creator_tag = (group << 16) | block
        creator = _text_value(ds[creator_tag].value) if creator_tag in ds else ""
        if (group, creator, elem & 0xFF) in self.safe_private:
            if self._is_sequence(ds, tag):
                self._items(ds[tag], depth)
            return
        del ds[tag]

    def _apply(self, ds, tag: int, rule: ProfileRule, depth: int) -> None:
        action = rule.action
        if action is Action.REMOVE:
            del ds[tag]
            return
        vr = _cheap_vr(ds, tag)
        if vr is not None and vr != "SQ" and self._fast(ds, tag, vr, action, rule):
            return
        elem = ds[tag]
        vr = elem.VR
        if action is Action.SHIFT_DATE:
            if vr in ("DA", "DT"):
                self._shift(ds, tag, elem, vr, rule)
                return
            if vr == "TM":
                return  # a whole-day shift leaves times of day unchanged
            if vr == "SH" and _UTC_OFFSET.match(str(elem.value or "")):
                return  # Timezone Offset From UTC: kept only when it is a well-formed offset
            action = rule.fallback
        elif action is Action.CLEAN_TEXT:
            if vr in _TEXT_VRS:
                self._clean_text(ds, tag, elem, rule)
                return
            action = rule.fallback
        self._basic(ds, tag, elem, vr, action, depth)

    def _fast(self, ds, tag: int, vr: str, action: Action, rule: ProfileRule) -> bool:
        """Apply ``action`` without decoding the old value where it is not needed; False if not handled."""
        from pydicom.dataelem import DataElement, empty_value_for_VR

        if action is Action.KEEP:
            return True
        if action is Action.SHIFT_DATE:
            if vr == "TM":
                return True
            if vr not in ("DA", "DT"):
                return False
            values = _ascii_values(ds.get_item(tag))
            if not values:
                return True
            fn = shift_da if vr == "DA" else shift_dt
            shifted = [fn(v, self.shift) if v else "" for v in values]
            if None in shifted:  # unparseable date: never keep it as is
                fallback = rule.fallback if rule.fallback is not Action.DUMMY else Action.ZERO
                return self._fast(ds, tag, vr, fallback, rule)
            ds[tag] = DataElement(tag, vr, shifted[0] if len(shifted) == 1 else shifted)
            return True
        if action is Action.UID or (action is Action.DUMMY and vr == "UI"):
            if vr != "UI":
                ds[tag] = DataElement(tag, vr, empty_value_for_VR(vr))
                return True
            values = _ascii_values(ds.get_item(tag))
            if not values:
                return True
            mapped = []
            for v in values:
                if v:
                    _check_uid_chars(v, rule.name)
                    v = self.pseudo.uid(v)
                mapped.append(v)
            ds[tag] = DataElement(tag, vr, mapped[0] if len(mapped) == 1 else mapped)
            return True
        if action is Action.ZERO or action is Action.CLEAN_ITEMS:
            ds[tag] = DataElement(tag, vr, empty_value_for_VR(vr))
            return True
        if action is Action.DUMMY:
            if tag == _PATIENT_ID:
                value: Any = self.patient
            elif vr in _NUMERIC_VRS:
                value = 0
            elif vr in _DUMMY_TEXT:
                value = _DUMMY_TEXT[vr]
            else:
                value = empty_value_for_VR(vr)
            ds[tag] = DataElement(tag, vr, value)
            return True
        return False

    def _basic(self, ds, tag: int, elem, vr: str, action: Action, depth: int) -> None:
        if action is Action.REMOVE:
            del ds[tag]
        elif action is Action.KEEP:
            if vr == "SQ":
                self._items(elem, depth)
        elif action is Action.CLEAN_ITEMS:
            if vr == "SQ":
                self._items(elem, depth)
            else:
                elem.value = elem.empty_value
        elif action is Action.UID:
            self._uid(elem, vr)
        elif action is Action.ZERO or (action is Action.DUMMY and vr == "SQ"):
            elem.value = [] if vr == "SQ" else elem.empty_value
        elif action is Action.DUMMY:
            self._dummy(tag, elem, vr)
        else:  # pragma: no cover - Action is closed
            del ds[tag]

    def _uid(self, elem, vr: str) -> None:
        if vr != "UI":
            elem.value = elem.empty_value
            return
        value = elem.value
        if value is None or value == "":
            return
        values = [value] if isinstance(value, str) else list(value)
        out = []
        for v in values:
            v = str(v).strip("\x00 ")
            if not v:
                out.append(v)
                continue
            _check_uid_chars(v, elem.keyword or "UID")
            out.append(self.pseudo.uid(v))
        elem.value = out[0] if len(out) == 1 else out

    def _dummy(self, tag: int, elem, vr: str) -> None:
        if tag == _PATIENT_ID:
            elem.value = self.patient
        elif vr == "UI":
            self._uid(elem, vr)
        elif vr in _NUMERIC_VRS:
            elem.value = 0
        elif vr in _DUMMY_TEXT:
            elem.value = _DUMMY_TEXT[vr]
        else:  # OB, OW, UN, ...: no meaningful dummy; empty it
            elem.value = elem.empty_value

    def _shift(self, ds, tag: int, elem, vr: str, rule: ProfileRule) -> None:
        value = elem.value
        if value is None or value == "":
            return
        values = [value] if isinstance(value, str) else list(value)
        fn = shift_da if vr == "DA" else shift_dt
        out = []
        for v in values:
            shifted = fn(str(v), self.shift)
            if shifted is None:  # unparseable date: never keep it as is
                self._basic(ds, tag, elem, vr, rule.fallback if rule.fallback is not Action.DUMMY else Action.ZERO, 0)
                return
            out.append(shifted)
        elem.value = out[0] if len(out) == 1 else out

    def _clean_text(self, ds, tag: int, elem, rule: ProfileRule) -> None:
        value = elem.value
        if value is None or value == "":
            return
        values = [value] if isinstance(value, str) else list(value)
        cleaned = [clean_descriptor(str(v)) for v in values]
        cleaned = [c for c in cleaned if c]
        if not cleaned:
            self._basic(ds, tag, elem, elem.VR, rule.fallback, 0)
            return
        elem.value = cleaned[0] if len(cleaned) == 1 else cleaned


def _is_standard(tag: int, _cache: dict[int, bool] = {}) -> bool:  # noqa: B006 - deliberate memo
    hit = _cache.get(tag)
    if hit is None:
        from pydicom.datadict import get_entry

        try:
            get_entry(tag)
            hit = (tag & 0xFFFF) != 0  # group lengths (gggg,0000) are retired and carry nothing needed
        except KeyError:
            hit = False
        if len(_cache) < 65536:
            _cache[tag] = hit
    return hit


def _cheap_vr(ds, tag: int) -> str | None:
    """The element's VR without decoding its value; None when only a full conversion can tell (UN, ambiguous)."""
    vr = getattr(ds.get_item(tag), "VR", None)
    if vr is None:
        from pydicom.datadict import dictionary_VR

        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return None
    return vr if vr in _KNOWN_VRS else None


def _ascii_values(raw) -> list[str]:
    """Values of a DA/DT/UI element, from raw bytes or a converted value, padding stripped."""
    value = raw.value
    if value is None:
        return []
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")
    if isinstance(value, str):
        value = value.strip("\x00 ")
        return [v.strip("\x00 ") for v in value.split("\\")] if value else []
    return [str(v).strip("\x00 ") for v in value]


def _text_value(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value or "").strip("\x00 ")


# ---------------------------------------------------------------------------- patient, stamp, meta


def _parse_da(value: str) -> _dt.date | None:
    value = value.strip()
    if len(value) == 8 and value.isdigit():
        try:
            return _dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            return None
    return None


def _age_band(ds, bands: tuple[int, ...]) -> str:
    age = _text(ds, "PatientAge").upper()
    years: int | None = None
    if len(age) == 4 and age[:3].isascii() and age[:3].isdigit() and age[3] in "DWMY":
        n = int(age[:3])
        years = {"D": n // 365, "W": n // 52, "M": n // 12, "Y": n}[age[3]]
    else:
        birth = _parse_da(_text(ds, "PatientBirthDate"))
        ref = _parse_da(_text(ds, "StudyDate")) or _parse_da(_text(ds, "SeriesDate")) or _parse_da(
            _text(ds, "ContentDate")
        )
        if birth and ref and ref >= birth:
            years = age_in_years(birth, ref)
    return age_band(years, bands)


def _already_ours(ds, pseudo: Pseudonymizer) -> bool:
    if _text(ds, "PatientIdentityRemoved").upper() != "YES":
        return False
    if not pseudo.is_patient_id(_text(ds, "PatientID")):
        return False
    seq = ds.get("DeidentificationMethodCodeSequence") or []
    return any(str(item.get("CodeValue", "")) == "113100" for item in seq)


def _stamp(ds, options: DeidOptions) -> None:
    from pydicom import Dataset
    from pydicom.dataelem import DataElement
    from pydicom.sequence import Sequence

    keys = ["basic"]
    texts = [_METHOD_TEXT]
    if options.retain_longitudinal_modified_dates:
        keys.append("modified_dates")
        texts.append("Retain Longitudinal Modified Dates")
        ds[0x00280303] = DataElement(0x00280303, "CS", "MODIFIED")  # Longitudinal Temporal Information Modified
    if options.retain_patient_characteristics:
        keys.append("patient_characteristics")
        texts.append("Retain Patient Characteristics")
    if options.retain_device_identity:
        keys.append("device_identity")
        texts.append("Retain Device Identity")
    if options.clean_descriptors:
        keys.append("clean_descriptors")
        texts.append("Clean Descriptors")
    if options.safe_private:
        keys.append("safe_private")
        texts.append("Retain Safe Private")
    ds[0x00120062] = DataElement(0x00120062, "CS", "YES")  # Patient Identity Removed
    ds[0x00120063] = DataElement(0x00120063, "LO", texts)  # De-identification Method
    items = []
    for key in keys:
        code, meaning = METHOD_CODES[key]
        item = Dataset()
        item[0x00080100] = DataElement(0x00080100, "SH", code)  # Code Value
        item[0x00080102] = DataElement(0x00080102, "SH", "DCM")  # Coding Scheme Designator
        item[0x00080104] = DataElement(0x00080104, "LO", meaning)  # Code Meaning
        items.append(item)
    ds[0x00120064] = DataElement(0x00120064, "SQ", Sequence(items))  # De-identification Method Code Sequence


def _fix_meta(ds) -> None:
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    fm = getattr(ds, "file_meta", None)
    if fm is None:
        fm = FileMetaDataset()
        ds.file_meta = fm
    if not str(getattr(fm, "TransferSyntaxUID", "") or ""):
        implicit, little = ds.original_encoding
        if implicit is None:
            implicit, little = True, True
        if implicit:
            fm.TransferSyntaxUID = ImplicitVRLittleEndian
        else:
            fm.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    for tag in list(fm.keys()):
        # AE titles and private information can name the sender; anything outside group 0002 is misplaced
        if int(tag) in _META_DROP or int(tag) >> 16 != 0x0002:
            del fm[tag]
    fm.MediaStorageSOPClassUID = ds.SOPClassUID
    fm.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if "FileMetaInformationGroupLength" in fm:
        del fm.FileMetaInformationGroupLength  # recomputed on write


def _serialize(ds) -> bytes:
    buf = io.BytesIO()
    try:
        ds.save_as(buf, enforce_file_format=True)
        return buf.getvalue()
    except (TypeError, ValueError, AttributeError, struct.error):
        pass
    # The dataset's own encoding disagrees with its transfer syntax (e.g. implicit VR under an
    # explicit-VR transfer syntax): convert every element so each knows its VR, then write.
    try:
        for _ in ds.iterall():
            pass
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        return buf.getvalue()
    except Exception as exc:
        raise _Stop(
            QuarantineReason.UNREADABLE,
            f"de-identified object cannot be encoded in its transfer syntax ({type(exc).__name__})",
        ) from None


def _deidentify(source: Any, pseudo: Pseudonymizer, site: str, options: DeidOptions, mrn: str | None) -> DicomResult:
    if not isinstance(site, str) or not site:
        raise TypeError("site must be a non-empty site code such as 'H01'")
    ds = _read(source)
    _gate(ds, options)
    if not _text(ds, "SOPInstanceUID"):
        raise _Stop(QuarantineReason.UNREADABLE, "SOP Instance UID (0008,0018) is missing")

    if _already_ours(ds, pseudo):
        patient = _text(ds, "PatientID")
        shift = 0
    else:
        key = mrn if mrn is not None else _text(ds, "PatientID")
        if not key:
            key = "study:" + _text(ds, "StudyInstanceUID")
        patient = pseudo.patient_id(site, key)
        shift = pseudo.date_shift_days(patient)
    band = _age_band(ds, options.age_bands)
    sex = _text(ds, "PatientSex").upper() if options.retain_patient_characteristics else ""

    walk = _Walk(options.profile(), pseudo, options, shift, patient)
    walk.dataset(ds, 0)
    if _PATIENT_ID not in ds:
        ds.PatientID = patient
    _stamp(ds, options)
    _fix_meta(ds)
    data = _serialize(ds)
    return DicomResult(
        dataset=ds,
        data=data,
        patient_pseudonym=patient,
        date_shift_days=shift,
        age_band=band,
        sex=sex,
    )
