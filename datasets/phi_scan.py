"""PHI leak scan: harvest the identifying tokens of a source export, then look for them in every byte written.

:func:`harvest_tokens` reads the identified export itself (DICOM headers, FHIR NDJSON, reference CSVs), not a list
the generator kept, and returns :class:`PhiTokens`: byte patterns by class (``patient_name``, ``patient_id``,
``accession_number``, ``birth_date``...) in every encoding a leak could take (UTF-8, GB18030, Latin-1, JSON
``\\uXXXX`` escapes). :func:`scan` searches files, directories and in-memory blobs (database dumps, audit events,
logs) and returns :class:`Hit` records naming the token class and the file, never the token.

Which tokens are kept (so that a de-identified corpus gives no false positives):

* text of at least 4 characters; names containing CJK ideographs from 2 characters (a 2-character Chinese name is
  6 bytes in UTF-8 and 4 in GB18030, specific enough; single characters are dropped);
* digit-only tokens of at least 6 digits (shorter numbers occur everywhere);
* not made only of placeholder words that exports write where a value is absent (``NAME^NONE``, ``ANONYMOUS``,
  ``UNKNOWN``...), and not private creator strings (vendor names, not PHI);
* name parts are also combined (``family given``, ``given family``, ``family^given``, CJK ``familygiven``) so a
  3-letter given name is still caught inside a full name;
* matching is ASCII case-insensitive, and a token that starts (ends) with an ASCII letter or digit must not be
  preceded (followed) by one, so ``Anne`` does not match inside ``channel`` nor an MRN inside a longer number;
* inside the Pixel Data value of a DICOM file only *strong* patterns (8 bytes or more) count: 4 to 7 byte
  patterns would match noisy 16-bit pixels by chance. Likewise anywhere else, a weak pattern does not count
  inside a high-entropy region (the 4 KiB around it carries more than 7.5 bits per byte: compressed or random
  data, where plain text cannot sit and chance matches can). Deflated DICOM is inflated before scanning, and
  compressed parquet is also scanned decoded.
* gzip files and zip members are opened and scanned too (location ``name!gunzip``, ``name!member[i]``, nested
  archives up to 3 deep), each up to 256 MiB inflated and 10000 members; what cannot be read in full (larger,
  encrypted, corrupt) is reported as a hit of class ``unscanned_archive``: a scan that could not see every
  byte cannot vouch for them.

The matcher is a vectorised 4-byte-prefix filter (numpy) followed by exact verification of the few candidates:
one pass over the data whatever the number of tokens.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PhiTokens", "Hit", "harvest_tokens", "scan", "token_rule"]

_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_PLACEHOLDERS = frozenset({
    "none", "name", "noname", "unnamed", "unknown", "unk", "anonymous", "anonymized", "anonymised", "anon",
    "redacted", "removed", "deidentified", "de-identified", "patient", "test", "null", "nil", "empty", "dummy",
    "sample", "missing", "noid", "xxx", "xxxx", "n/a", "na", "other", "no",
})
"""Words that real exports put where a value is absent (``NAME^NONE``, ``ANONYMOUS``); never PHI."""
_WORD_SPLIT = re.compile(r"[\s^=,.;:_-]+")
_STRONG = 8
_HASH_BITS = 22
_CHUNK = 1 << 22
_DEFLATED = b"1.2.840.10008.1.2.1.99"
_ENTROPY_WINDOW = 4096
_ENTROPY_BITS = 7.5  # bits per byte above which a window is compressed or random data
_MAX_INFLATE = 256 << 20
_MAX_TOTAL_INFLATE = 1 << 30  # inflated bytes of all the archives nested in one file (a nested zip bomb stops here)
_MAX_MEMBERS = 10_000
_MAX_ARCHIVE_DEPTH = 3
UNSCANNED = "unscanned_archive"


def token_rule(text: str) -> bool:
    """Whether a harvested string is specific enough to scan for (see the module docstring).

    Examples
    --------
    >>> [token_rule(t) for t in ("Wei", "Zhang", "张伟", "张", "12345", "0912345", "  ", "NAME^NONE")]
    [False, True, True, False, False, True, False, False]
    """
    t = text.strip()
    if not t:
        return False
    words = [w for w in _WORD_SPLIT.split(t.lower()) if w]
    if not words or all(w in _PLACEHOLDERS for w in words):
        return False
    if t.isdigit():
        return len(t) >= 6
    if _CJK.search(t):
        return len(t) >= 2
    return len(t) >= 4


def _variants(text: str) -> list[tuple[bytes, str]]:
    out = [(text.encode("utf-8"), "utf-8")]
    if not text.isascii():
        for enc in ("gb18030", "latin-1"):
            try:
                b = text.encode(enc)
            except UnicodeEncodeError:
                continue
            out.append((b, enc))
        out.append((json.dumps(text, ensure_ascii=True)[1:-1].encode("ascii"), "json-escape"))
    seen: set[bytes] = set()
    uniq = []
    for b, enc in out:
        if b not in seen:
            seen.add(b)
            uniq.append((b, enc))
    return uniq


@dataclass(frozen=True, slots=True, kw_only=True)
class Hit:
    """A PHI token found where it must not be. Carries the token's class, never the token.

    Attributes
    ----------
    token_class : str
        E.g. ``"patient_name"``, ``"patient_id"``, ``"birth_date"``.
    location : str
        The file (relative to the directory scanned, or as given) or blob name; ``#decoded`` is appended for the
        decoded content of a compressed parquet or deflated DICOM file.
    count : int
        Occurrences of tokens of this class in this location.
    first_offset : int
        Byte offset of the first occurrence (in the decoded content when ``#decoded``).
    encoding : str
        Encoding of the first matched pattern (``utf-8``, ``gb18030``, ``latin-1``, ``json-escape``).
    """

    token_class: str
    location: str
    count: int
    first_offset: int
    encoding: str

    def __str__(self) -> str:
        return f"{self.token_class} x{self.count} in {self.location} (first at byte {self.first_offset}, " \
               f"{self.encoding})"


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class PhiTokens:
    """PHI byte patterns by class. Holds PHI: never log it; its ``repr`` shows counts only.

    Build with :func:`harvest_tokens` or :meth:`from_strings`; combine with ``|``.
    """

    strings: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clean = {}
        for kind, values in self.strings.items():
            kept = frozenset(v.strip() for v in values if isinstance(v, str) and token_rule(v))
            if kept:
                clean[str(kind)] = kept
        object.__setattr__(self, "strings", dict(sorted(clean.items())))

    @classmethod
    def from_strings(cls, by_class: Mapping[str, Iterable[str]]) -> PhiTokens:
        """Tokens from plain strings by class; strings failing :func:`token_rule` are dropped."""
        return cls(strings={k: frozenset(v) for k, v in by_class.items()})

    def __or__(self, other: PhiTokens) -> PhiTokens:
        merged = {k: set(v) for k, v in self.strings.items()}
        for k, v in other.strings.items():
            merged.setdefault(k, set()).update(v)
        return PhiTokens.from_strings(merged)

    def __repr__(self) -> str:
        return f"PhiTokens({', '.join(f'{k}={len(v)}' for k, v in self.strings.items())})"

    __str__ = __repr__

    def __len__(self) -> int:
        return sum(len(v) for v in self.strings.values())

    def counts(self) -> dict[str, int]:
        """Number of tokens per class (safe to print)."""
        return {k: len(v) for k, v in self.strings.items()}

    def patterns(self) -> list[tuple[bytes, str, str]]:
        """(bytes, class, encoding) for every token and encoding, deduplicated by bytes (first class wins).

        Encoded forms shorter than 4 bytes (e.g. a CJK character plus a Latin letter in GB18030) are left out:
        they are not specific, and the matcher works on 4-byte prefixes.
        """
        out: dict[bytes, tuple[str, str]] = {}
        for kind, values in self.strings.items():
            for v in sorted(values):
                for b, enc in _variants(v):
                    if len(b) >= 4:
                        out.setdefault(b, (kind, enc))
        return [(b, k, e) for b, (k, e) in sorted(out.items())]


# --------------------------------------------------------------------------------------------------- harvesting


class _Harvest:
    def __init__(self) -> None:
        self.by_class: dict[str, set[str]] = {}

    def add(self, kind: str, *values) -> None:
        bucket = self.by_class.setdefault(kind, set())
        for v in values:
            if isinstance(v, str) and v.strip():
                bucket.add(v.strip())

    def add_name(self, kind: str, family: str, given: Iterable[str], text: str = "") -> None:
        given = [g for g in given if isinstance(g, str) and g.strip()]
        family = family.strip() if isinstance(family, str) else ""
        self.add(kind, text, family, *given)
        for g in given:
            if family:
                self.add(kind, f"{family} {g}", f"{g} {family}", f"{family}^{g}")
                if _CJK.search(family + g):
                    self.add(kind, family + g)

    def add_date(self, kind: str, value: str) -> None:
        v = value.strip()
        if re.fullmatch(r"\d{8}", v):
            self.add(kind, v, f"{v[:4]}-{v[4:6]}-{v[6:]}")
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            self.add(kind, v, v.replace("-", ""))


_PN_CLASS = {"PatientName": "patient_name", "PatientBirthName": "patient_name",
             "PatientMotherBirthName": "person_name", "ResponsiblePerson": "person_name"}
_DICOM_CLASS = {
    "PatientID": "patient_id", "OtherPatientIDs": "patient_id", "AccessionNumber": "accession_number",
    "InstitutionName": "institution_name", "InstitutionAddress": "institution_address",
    "DeviceSerialNumber": "device_serial", "StationName": "station_name", "PatientAddress": "address",
    "PatientTelephoneNumbers": "phone", "StudyInstanceUID": "uid", "SeriesInstanceUID": "uid",
    "SOPInstanceUID": "uid", "FrameOfReferenceUID": "uid", "MedicalRecordLocator": "patient_id",
    "InstitutionalDepartmentName": None, "StudyID": None,
}
_DICOM_DATES = {"PatientBirthDate": "birth_date"}


def _pn_parts(h: _Harvest, kind: str, value: str) -> None:
    for group in value.split("="):
        comps = group.split("^")
        family = comps[0] if comps else ""
        given = comps[1:3] if len(comps) > 1 else []
        h.add_name(kind, family, given, group)
        joined = " ".join(c for c in comps if c)
        h.add(kind, joined)


def _harvest_dicom(h: _Harvest, path: Path) -> None:
    import pydicom

    try:
        ds = pydicom.dcmread(path, force=True, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - an unreadable file contributes no tokens
        return

    def walk(d, depth: int) -> None:
        if depth > 64:
            return
        for elem in d:
            try:
                vr, kw = elem.VR, elem.keyword
                if vr == "SQ":
                    for item in elem.value or ():
                        walk(item, depth + 1)
                    continue
                value = elem.value
            except Exception:  # noqa: BLE001 - undecodable value: skip
                continue
            values = value if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [value]
            if vr == "PN":
                kind = _PN_CLASS.get(kw, "physician_name" if "Physician" in kw or "Operator" in kw
                                     or "Performing" in kw else "person_name")
                for v in values:
                    _pn_parts(h, kind, str(v))
            elif kw in _DICOM_DATES:
                for v in values:
                    h.add_date(_DICOM_DATES[kw], str(v))
            elif _DICOM_CLASS.get(kw):
                for v in values:
                    h.add(_DICOM_CLASS[kw], str(v))
            elif elem.tag.is_private and not elem.tag.is_private_creator and vr in ("LO", "SH", "ST", "LT", "UT",
                                                                                    "PN"):
                for v in values:
                    h.add("private_text", str(v))

    walk(ds, 0)


_ID_CLASS = {"MR": "patient_id", "NI": "patient_id", "PPN": "patient_id", "DL": "patient_id", "SS": "patient_id",
             "ACSN": "accession_number", "VN": "visit_number", "PLAC": "identifier", "FILL": "identifier"}
_ORG_KEYS = frozenset({"serviceProvider", "managingOrganization", "organization", "custodian", "provider",
                       "hospital", "location"})
_STAFF_KEYS = frozenset({"individual", "requester", "referrer", "resultsInterpreter", "performer", "actor", "author",
                         "recorder", "asserter", "participant", "practitioner", "attester", "party", "who",
                         "generalPractitioner", "enterer", "prescriber", "informant", "sender", "recipient"})
_PERSON_TYPES = frozenset({"Practitioner", "PractitionerRole", "Patient", "RelatedPerson", "Person"})
_REF_TYPE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/[^/]+$")


def _display_class(key: str, ref: dict) -> str | None:
    """Class of a Reference.display worth harvesting: staff and patients' names, institutions; not drugs, payers."""
    target = ref.get("reference")
    m = _REF_TYPE.search(target) if isinstance(target, str) else None
    if m:
        if m.group(1) in _PERSON_TYPES:
            return "physician_name" if m.group(1).startswith("Practitioner") else "person_name"
        if m.group(1) in ("Organization", "Location") and key in _ORG_KEYS:
            return "institution_name"
        return None
    if key in _STAFF_KEYS:
        return "physician_name"
    if key in _ORG_KEYS:
        return "institution_name"
    return None


def _harvest_fhir(h: _Harvest, res, resource_type: str, key: str = "", depth: int = 0) -> None:
    if depth > 64:
        return
    if isinstance(res, list):
        for v in res:
            _harvest_fhir(h, v, resource_type, key, depth + 1)
        return
    if not isinstance(res, dict):
        return
    if key and isinstance(res.get("display"), str) and not ({"code", "system"} & res.keys()):
        kind = _display_class(key, res)  # a Reference (or a list element of one) with a display text
        if kind is not None:
            h.add(kind, res["display"])
    rtype = res.get("resourceType") if isinstance(res.get("resourceType"), str) else resource_type
    for k, v in res.items():
        if k == "name" and isinstance(v, (list, dict)):
            kind = {"Patient": "patient_name", "Practitioner": "physician_name",
                    "RelatedPerson": "person_name"}.get(rtype, "person_name")
            if key == "contact":
                kind = "person_name"
            for n in v if isinstance(v, list) else [v]:
                if isinstance(n, dict):
                    h.add_name(kind, n.get("family", "") or "", n.get("given") or [], n.get("text", "") or "")
        elif k == "telecom" and isinstance(v, list):
            h.add("phone", *(t.get("value") for t in v if isinstance(t, dict)))
        elif k == "address" and isinstance(v, list):
            for a in v:
                if isinstance(a, dict):
                    h.add("address", a.get("text"), *(a.get("line") or []))
        elif k == "birthDate" and isinstance(v, str):
            h.add_date("birth_date", v)
        elif k in ("identifier", "masterIdentifier") and isinstance(v, (list, dict)):
            for ident in v if isinstance(v, list) else [v]:
                if not isinstance(ident, dict) or not isinstance(ident.get("value"), str):
                    continue
                codes = [c.get("code") for c in ((ident.get("type") or {}).get("coding") or [])
                         if isinstance(c, dict)]
                kind = next((_ID_CLASS[c] for c in codes if c in _ID_CLASS), None)
                system = ident.get("system") or ""
                value = ident["value"]
                if kind is None:
                    kind = "uid" if value.startswith("urn:oid:") else \
                        "visit_number" if "visit" in system else "identifier"
                h.add(kind, value)
                if value.startswith("urn:oid:"):
                    h.add("uid", value[8:])
        elif k == "uid" and isinstance(v, str):
            h.add("uid", v)
        elif k == "authorString" and isinstance(v, str):
            h.add("physician_name", v)
        elif k == "text" and isinstance(v, dict):
            continue  # narrative repeats names already harvested from structured fields
        elif isinstance(v, (dict, list)):
            _harvest_fhir(h, v, rtype, k, depth + 1)


def _harvest_reference(h: _Harvest, path: Path) -> None:
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError:
        return
    for row in csv.DictReader(io.StringIO(text)):
        h.add("patient_id", row.get("mrn"))
        h.add("accession_number", row.get("accession_number"))
        h.add("visit_number", row.get("visit_number"))


def harvest_tokens(export_dir: str | os.PathLike, *, sites: Iterable[str] | None = None) -> PhiTokens:
    """Harvest the PHI tokens of an identified export from its source files.

    DICOM (every file under ``SITE/dicom``; all sequences walked): person names (each component group,
    alphabetic, ideographic and phonetic, and their parts), Patient ID, Other Patient IDs (also inside Other
    Patient IDs Sequence), Accession Number (also inside Request Attributes Sequence), Patient's Birth Date as
    ``YYYYMMDD`` and ``YYYY-MM-DD``, institution name and address, device serial number, station name, patient
    address and telephone, study/series/instance UIDs, private text elements. FHIR (every ``SITE/fhir/*.ndjson``
    line): names, identifier values, telecom values, address text and lines, birth dates, UIDs, reference
    displays (staff and organisations), annotation authors. Reference CSVs: MRN, accession and visit numbers.

    Parameters
    ----------
    export_dir : path-like
        The export root holding ``SITE/`` folders.
    sites : iterable of str, optional
        Only these site folders (default: every folder).

    Returns
    -------
    PhiTokens
        Holds PHI; do not log it.
    """
    root = Path(export_dir)
    h = _Harvest()
    wanted = None if sites is None else set(sites)
    for site in sorted(p for p in root.iterdir() if p.is_dir() and (wanted is None or p.name in wanted)):
        dicom = site / "dicom"
        if dicom.is_dir():
            for p in sorted(dicom.rglob("*")):
                if p.is_file() and not p.is_symlink():
                    _harvest_dicom(h, p)
        fhir = site / "fhir"
        if fhir.is_dir():
            for p in sorted(fhir.glob("*.ndjson")):
                for line in p.read_bytes().splitlines():
                    try:
                        res = json.loads(line)
                    except (ValueError, RecursionError):
                        continue  # unparseable lines are quarantined by ingest, never stored
                    _harvest_fhir(h, res, "")
        ref = site / "reference"
        if ref.is_dir():
            for p in sorted(ref.glob("*.csv")):
                _harvest_reference(h, p)
    return PhiTokens.from_strings(h.by_class)


# --------------------------------------------------------------------------------------------------- scanning


class _Matcher:
    """All patterns at once: numpy filter on the 4-byte prefix (hashed bitmap), then exact checks."""

    def __init__(self, tokens: PhiTokens) -> None:
        import numpy as np

        self.np = np
        pats = tokens.patterns()
        self.patterns = [(b.translate(_LOWER), kind, enc) for b, kind, enc in pats]
        self.by_prefix: dict[int, list[int]] = {}
        for i, (p, _, _) in enumerate(self.patterns):
            self.by_prefix.setdefault(int.from_bytes(p[:4], "little"), []).append(i)
        self.table = np.zeros(1 << _HASH_BITS, dtype=bool)
        if self.by_prefix:
            keys = np.fromiter(self.by_prefix.keys(), dtype=np.uint32, count=len(self.by_prefix))
            self.table[self._hash(keys)] = True

    def _hash(self, w):
        np = self.np
        return (w * np.uint32(2654435761)) >> np.uint32(32 - _HASH_BITS)

    def find(self, data: bytes) -> Iterator[tuple[int, int]]:
        """Yield ``(offset, pattern index)`` of every match in ``data`` (ASCII case-insensitive, bounded).

        Offsets come in increasing order within each residue class modulo 4 (the four unaligned views).
        """
        np = self.np
        if not self.patterns or len(data) < 4:
            return
        low = data.translate(_LOWER)
        step = _CHUNK // 4
        for k in range(4):
            count = (len(low) - k) // 4
            view = np.frombuffer(low, dtype="<u4", count=count, offset=k)
            for start in range(0, count, step):
                w = view[start:start + step]
                for c in np.flatnonzero(self.table[self._hash(w)]):
                    idx = self.by_prefix.get(int(w[c]))
                    if not idx:
                        continue
                    i = 4 * (start + int(c)) + k
                    for pi in idx:
                        p = self.patterns[pi][0]
                        if low.startswith(p, i) and self._bounded(low, i, p):
                            yield i, pi

    @staticmethod
    def _bounded(low: bytes, i: int, p: bytes) -> bool:
        if p[0] in _ALNUM and i > 0 and low[i - 1] in _ALNUM:
            return False
        j = i + len(p)
        return not (p[-1] in _ALNUM and j < len(low) and low[j] in _ALNUM)


def _dicom_layout(data: bytes) -> tuple[bytes, tuple[int, int] | None, bool]:
    """(bytes to scan, pixel data value span in them or None, decoded?) for a DICOM Part 10 file."""
    if len(data) < 144 or data[128:132] != b"DICM":
        return data, None, False
    pos = 132
    meta_end = None
    # File meta group: explicit VR little endian; (0002,0000) UL gives its length.
    if data[pos:pos + 4] == b"\x02\x00\x00\x00" and data[pos + 4:pos + 6] == b"UL":
        meta_end = pos + 12 + int.from_bytes(data[pos + 8:pos + 12], "little")
    if meta_end is None or meta_end > len(data):
        return data, None, False
    meta = data[:meta_end]
    body = data[meta_end:]
    decoded = False
    if _DEFLATED in meta:
        try:
            body = zlib.decompress(body, -15)
            decoded = True
        except zlib.error:
            return data, None, False
    implicit = b"1.2.840.10008.1.2\x00" in meta and b"1.2.840.10008.1.2.1" not in meta
    big = b"1.2.840.10008.1.2.2" in meta
    span = None
    try:
        from pydicom.filereader import read_dataset

        ds = read_dataset(io.BytesIO(body), is_implicit_VR=implicit, is_little_endian=not big)
        raw = ds._dict.get(0x7FE00010)
        tell = getattr(raw, "value_tell", None)
        if tell is not None:
            length = raw.length if raw.length != 0xFFFFFFFF else len(body) - tell
            span = (meta_end + tell, meta_end + tell + length)
    except Exception:  # noqa: BLE001 - unparseable: scan everything with every pattern
        span = None
    return meta + body, span, decoded


def _parquet_decoded(data: bytes) -> bytes | None:
    """String/binary column values of a parquet file whose pages are compressed (else None: raw bytes suffice)."""
    if not (data[:4] == b"PAR1" and data[-4:] == b"PAR1"):
        return None
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        f = pq.ParquetFile(io.BytesIO(data))
        md = f.metadata
        compressed = any(md.row_group(r).column(c).compression != "UNCOMPRESSED"
                         for r in range(md.num_row_groups) for c in range(md.num_columns))
        if not compressed:
            return None
        table = f.read()
        parts = []
        for col in table.columns:
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                parts.extend(v.encode("utf-8") for v in col.to_pylist() if v is not None)
            elif pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
                parts.extend(v for v in col.to_pylist() if v is not None)
            else:
                parts.extend(str(v).encode() for v in col.to_pylist() if v is not None)
        return b"\n".join(parts)
    except Exception:  # noqa: BLE001 - unreadable parquet: the raw scan still runs
        return None


def _high_entropy(buf: bytes, off: int, cache: dict) -> bool:
    """Whether the window of :data:`_ENTROPY_WINDOW` bytes around ``off`` looks compressed or random."""
    start = max(0, min(off - _ENTROPY_WINDOW // 2, len(buf) - _ENTROPY_WINDOW))
    start -= start % 512  # windows on a 512-byte grid, so neighbouring hits share one computation
    hit = cache.get(start)
    if hit is None:
        import numpy as np

        window = np.frombuffer(buf, dtype=np.uint8, count=min(_ENTROPY_WINDOW, len(buf) - start), offset=start)
        freq = np.bincount(window, minlength=256)
        prob = freq[freq > 0] / window.size
        hit = cache[start] = bool(window.size >= _ENTROPY_WINDOW // 2 and -(prob * np.log2(prob)).sum() > _ENTROPY_BITS)
    return hit


_PRINTABLE = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}


def _in_text(buf: bytes, off: int, n: int, *, reach: int = 16) -> bool:
    """Whether a hit of ``n`` bytes at ``off`` sits in plain ASCII text (a comment or text chunk inside compressed
    or random data): fewer than a quarter of the ``reach`` bytes on either side are non-printable. Random bytes are
    non-printable about 63% of the time, so a chance match in noise is not in text."""
    context = buf[max(0, off - reach):off] + buf[off + n:off + n + reach]
    return sum(b not in _PRINTABLE for b in context) < max(1, len(context) // 4)


def _scan_blob(m: _Matcher, name: str, data: bytes, hits: dict, depth: int = 0, budget: list | None = None) -> None:
    budget = [_MAX_TOTAL_INFLATE] if budget is None else budget  # bytes left to inflate for this top-level file
    buf, span, decoded = _dicom_layout(data)
    loc = name + "#decoded" if decoded else name
    entropy: dict[int, bool] = {}
    for off, pi in m.find(buf):
        p, kind, enc = m.patterns[pi]
        if len(p) < _STRONG and ((span is not None and span[0] <= off < span[1])
                                 or (_high_entropy(buf, off, entropy) and not _in_text(buf, off, len(p)))):
            continue
        _record(hits, kind, loc, off, enc)
    pq_text = _parquet_decoded(data)
    if pq_text is not None:
        for off, pi in m.find(pq_text):
            _, kind, enc = m.patterns[pi]
            _record(hits, kind, name + "#decoded", off, enc)
    for member, content in _archive_members(name, data, depth, budget):
        if content is None:
            _record(hits, UNSCANNED, member, 0, "")
        else:
            _scan_blob(m, member, content, hits, depth + 1, budget)


def _archive_members(name: str, data: bytes, depth: int, budget: list) -> Iterator[tuple[str, bytes | None]]:
    """(location, content or None when it cannot be read in full) of a gzip stream or of each zip member.

    Each content is at most :data:`_MAX_INFLATE` bytes and takes its size from ``budget[0]``, the bytes all the
    archives of one top-level file may still inflate; beyond either, the member is unscanned."""
    if data[:2] == b"\x1f\x8b":
        if depth >= _MAX_ARCHIVE_DEPTH:
            yield f"{name}!gunzip", None
            return
        content = _gunzip(data, min(_MAX_INFLATE, budget[0]))
        if content is not None:
            budget[0] -= len(content)
        yield f"{name}!gunzip", content
    elif data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        import zipfile

        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
            infos = zf.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            yield f"{name}!zip", None
            return
        if depth >= _MAX_ARCHIVE_DEPTH or len(infos) > _MAX_MEMBERS:
            yield f"{name}!zip", None
            return
        for i, info in enumerate(infos):
            loc = f"{name}!member[{i}]"  # by index: a member's name may itself be PHI (its bytes are scanned raw)
            if info.is_dir():
                continue
            limit = min(_MAX_INFLATE, budget[0])
            try:
                with zf.open(info) as f:
                    content = f.read(limit + 1)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError,
                    zlib.error):
                content = None  # encrypted, unsupported compression or corrupt
            if content is not None and len(content) > limit:
                content = None
            if content is not None:
                budget[0] -= len(content)
            yield loc, content


def _gunzip(data: bytes, limit: int = _MAX_INFLATE) -> bytes | None:
    """Every member of a gzip file inflated (at most ``limit`` bytes), or None if that is not possible."""
    out = bytearray()
    rest = data
    try:
        while rest[:2] == b"\x1f\x8b":
            d = zlib.decompressobj(wbits=31)
            out += d.decompress(rest, limit + 1 - len(out))
            if len(out) > limit or not d.eof:
                return None  # too large, or truncated
            rest = d.unused_data
    except zlib.error:
        return None
    return bytes(out)


def _record(hits: dict, kind: str, loc: str, off: int, enc: str) -> None:
    key = (loc, kind)
    if key in hits:
        hits[key][0] += 1
    else:
        hits[key] = [1, off, enc]


def _files(paths) -> Iterator[tuple[str, Path]]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for item in paths:
        p = Path(item)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file():
                    yield f"{p.name}/{f.relative_to(p).as_posix()}", f
        elif p.is_file():
            yield str(p), p
        else:
            raise FileNotFoundError(f"scan path {p} does not exist; pass files or directories written by ingest.")


def scan(paths_or_dirs, tokens: PhiTokens, *, extra_blobs: Mapping[str, bytes] = {}) -> list[Hit]:  # noqa: B006
    """Search every byte of files, directories (recursively) and blobs for PHI tokens.

    Parameters
    ----------
    paths_or_dirs : path-like or iterable of path-like
        Files and directories to scan (every regular file below a directory).
    tokens : PhiTokens
        From :func:`harvest_tokens` (possibly combined with ``|``).
    extra_blobs : Mapping[str, bytes]
        Named byte strings (a database dump, audit events, log text) scanned like files.

    Returns
    -------
    list of Hit
        One per (location, token class), sorted by location then class; empty when nothing leaked. A directory's
        files are named ``<dir name>/<relative path>``.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    """
    m = _Matcher(tokens)
    hits: dict[tuple[str, str], list] = {}
    for name, path in _files(paths_or_dirs):
        _scan_blob(m, name, path.read_bytes(), hits)
    for name, blob in extra_blobs.items():
        _scan_blob(m, str(name), bytes(blob), hits)
    return [Hit(token_class=kind, location=loc, count=v[0], first_offset=v[1], encoding=v[2])
            for (loc, kind), v in sorted(hits.items())]
