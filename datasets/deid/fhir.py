"""FHIR R4 de-identification on plain JSON dicts: resources, Bundles and Bulk Data NDJSON.

Rules (applied to every resource, recursively, contained resources included):

* **ids and references** are pseudonymised with the keyed HMAC of
  :class:`~datasets.deid.pseudonym.Pseudonymizer`: a Patient's id becomes the
  (site, MRN) patient pseudonym (the same string DICOM gets as Patient ID),
  UUID ids map exactly like their ``urn:uuid`` fullUrl, other ids become
  ``resource_id(site, type, id)``; ``Type/id`` and absolute
  references become ``Type/<pseudonym>``, ``urn:uuid:`` references and
  ``fullUrl`` map through the same UUID pseudonym (so references inside a
  Bundle resolve), ``#local`` references follow their contained resource, and
  conditional references ``Type?identifier=system|value`` keep the system and
  hash the value exactly as the identifier itself is hashed. Malformed
  references, and ``urn:uuid`` references that do not resolve inside their
  Bundle, quarantine the resource.
* **identifiers**: every ``Identifier.value`` is hashed per (site, system);
  a Patient's MR identifier becomes the patient pseudonym; a DICOM UID given as
  ``urn:oid:<uid>`` (ImagingStudy.identifier) and ImagingStudy ``uid`` elements
  map through :meth:`Pseudonymizer.uid`, so FHIR and DICOM name a study alike.
* **removed**: names of people, organisations and locations, ``address``,
  ``telecom``, ``photo``, ``contact``, ``position``, narrative (``text.div``),
  annotations (``note``), attachment payloads (``data``, ``url``, ``title``)
  and ``presentedForm``, ``Reference.display``, primitive extensions
  (``_field``), ``meta.source``, Bundle ``link``/``signature``/``timestamp``.
* **dates** (``date``, ``dateTime``, ``instant``, ``Period``) shift by the
  patient's whole-day offset keeping their precision; an unparseable value in a
  date field is dropped, never kept.
* **birthDate** is replaced by an age band in the extension
  :data:`AGE_BAND_EXTENSION_URL` (``valueString`` such as ``"40-49"``),
  computed at :attr:`FhirOptions.age_reference_date` or, when not given, at the
  patient's latest clinical date seen in the same call; it is also returned in
  :class:`FhirPatient` for the corpus index.
* **extensions**: only allow-listed URLs are kept (US Core race, ethnicity,
  birth sex, the age band); unknown ``modifierExtension`` quarantines the
  resource because dropping it would change the resource's meaning.
* **free text** (every other string) goes through
  :class:`~datasets.deid.freetext.FreeTextScanner` with the patient's own PHI
  tokens (names, address parts, phones, identifier values, birth date) and PHI
  patterns (phones, e-mails, ID numbers).
* a ``meta.security`` label ``PSEUDED`` marks the output; a resource that
  carries it and whose id this key produced is recognised as already
  de-identified, so running twice gives the same result (idempotent).

Validation at the boundary: every resource gets cheap structural checks
(known resourceType, id syntax, reference syntax, date syntax, nesting depth,
duplicate JSON keys when parsed from text); full validation against
``fhir.resources.R4B`` runs on the de-identified output of a deterministic
sample (``FhirOptions(validate="sample")``, 1 in ``validation_sample`` by a
hash of the output id) or on every resource (``validate="all"``). A resource
that fails is quarantined, never emitted. Parsing every resource with
fhir.resources costs more than all the de-identification above; sampling is
what keeps the engine several times faster (``benchmarks/deid.py``).

Compiled build: ``fhir.pxd`` beside this file gives the walk static types
(``_Engine`` and ``_Patient`` become extension types, the walk methods C
functions) and ``setup.py`` compiles this module with Cython when it can; this
file stays the source of truth and runs unchanged without a compiler
(``datasets/deid/_accel.py`` decides which is imported; both give the same
bytes). The nesting bounds (:data:`MAX_DEPTH_LIMIT`, the Patient harvest
bound) are fixed numbers rather than the interpreter's recursion limit so that
deep input is quarantined alike either way.
"""

from __future__ import annotations

import datetime as _dt
import functools
import gc
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from datasets.deid.dates import age_band, age_in_years, shift_fhir_date
from datasets.deid.errors import DeidError, OptionsError
from datasets.deid.fhir_json import StrictJsonError, loads_strict
from datasets.deid.freetext import REDACTED, FreeTextScanner
from datasets.deid.pseudonym import Pseudonymizer
from datasets.deid.quarantine import Quarantined, QuarantineReason

__all__ = [
    "AGE_BAND_EXTENSION_URL",
    "MAX_DEPTH_LIMIT",
    "PSEUDED_SECURITY",
    "SAFE_EXTENSIONS",
    "FhirOptions",
    "FhirPatient",
    "FhirResult",
    "deidentify_fhir_resource",
    "deidentify_bundle",
    "deidentify_ndjson",
]

AGE_BAND_EXTENSION_URL = "urn:clinval:fhir:StructureDefinition:age-band"
PSEUDED_SECURITY: dict[str, str] = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "PSEUDED",
    "display": "pseudonymized",
}
SAFE_EXTENSIONS: frozenset[str] = frozenset(
    {
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity",
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
        AGE_BAND_EXTENSION_URL,
    }
)

MAX_DEPTH_LIMIT = 128  # largest FhirOptions.max_depth (the walk recurses up to ~4 frames per level)
_MAX_HARVEST_DEPTH = 128  # nesting of a Patient element beyond which harvesting its PHI tokens gives up
_DROP = object()
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _is_uuid(s: str) -> bool:
    """Whether ``s`` matches :data:`_UUID` (the regex itself: on CPython 3.11 it is faster than a test built from
    ``str.count`` and ``str.strip``, compiled or not)."""
    return _UUID.match(s) is not None


_RELATIVE = re.compile(r"^([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")
_ABSOLUTE = re.compile(
    r"^https?://[A-Za-z0-9\-._~:@%]+(?:/[A-Za-z0-9\-._~%]+)*?/([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?$"
)
_CONDITIONAL = re.compile(r"^([A-Z][A-Za-z]{1,63})\?identifier=([^|&\s]*)\|([^&\s]+)$")
_DICOM_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_DATE_VALUE = re.compile(
    r"^\d{4}-\d{2}(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?$"
)
_DATE_KEYS = frozenset(
    {"date", "start", "end", "issued", "recorded", "lastUpdated", "created", "authoredOn", "timestamp", "instant"}
)
# Keys whose string values are codes, URIs or structure, never free text.
_NO_SCAN = frozenset(
    {
        "system", "code", "url", "profile", "contentType", "language", "status", "use", "gender",
        "resourceType", "unit", "version", "method", "intent", "priority", "type", "id", "mode",
        "valueCode", "valueUri", "valueCanonical", "valueUrl", "fullUrl", "versionId", "kind",
        "criticality", "category", "severity", "outcome", "action", "purpose", "jurisdiction",
    }
)
# Removed wherever they appear.
_DROP_KEYS = frozenset(
    {
        "address", "telecom", "photo", "contact", "note", "presentedForm", "position", "alias", "data",
        "signature", "subscriberId",
    }
)
# Removed at the top level of these resource types.
_RESOURCE_DROP: dict[str, frozenset[str]] = {
    "Patient": frozenset({"name", "birthDate"}),
    "Practitioner": frozenset({"name", "birthDate", "qualification"}),
    "RelatedPerson": frozenset({"name", "birthDate"}),
    "Person": frozenset({"name", "birthDate"}),
    "Organization": frozenset({"name"}),
    "Location": frozenset({"name", "description"}),
    "HealthcareService": frozenset({"name", "comment"}),
    "Endpoint": frozenset({"name", "address"}),
    "Group": frozenset({"name"}),
}
_ABSTRACT = frozenset({"Resource", "DomainResource", "MetadataResource", "CanonicalResource"})
_IDENTIFIER_KEYS = frozenset({"identifier", "masterIdentifier", "preAdmissionIdentifier", "groupIdentifier"})
_SPECIAL_KEYS = frozenset({"extension", "modifierExtension", "reference", "display", "text", "url", "title"}) | _IDENTIFIER_KEYS
_REFERENCE_KEYS = frozenset({"reference", "display"})
_CONCEPT_KEYS = frozenset({"coding", "text"})
_CODING_KEYS = frozenset({"system", "version", "code", "display", "userSelected"})
_QUANTITY_KEYS = frozenset({"value", "unit", "system", "code", "comparator", "currency"})
_RESOURCE_KEYS = frozenset({"id", "text", "meta", "contained"})
# What the walk does with a member, by key (filled lazily, bounded): one dict lookup replaces the
# chain of set-membership tests in the hot loops. Actions (the first three are "walk the value";
# _TEXT is a key whose string values are free text unless they look like dates):
_TEXT, _SCAN, _NOSCAN, _SKIP, _SPECIAL, _A_ID, _A_META, _A_CONTAINED, _DISPLAY_NONE = range(9)
_ACTION_CACHE_MAX = 512
_RESOURCE_PLANS: dict[tuple, tuple] = {}  # (resourceType, *keys) -> action per key (top level of a resource)
_OBJECT_ACTIONS: dict[str, int] = {}  # key -> action (inside an element)


def _string_action(key: str) -> int:
    if key in _NO_SCAN:
        return _NOSCAN
    if key == "uid" or key in _DATE_KEYS or key.endswith(("Date", "DateTime", "Instant")):
        return _SCAN
    return _TEXT


def _resource_action(rtype: str, key: str) -> int:
    if not key:
        raise _Stop(QuarantineReason.FHIR_VALIDATION_FAILED, "a JSON member has an empty name")
    if key in _DROP_KEYS or key[:1] == "_" or key == "resourceType" or key in _RESOURCE_DROP.get(rtype, ()):
        return _SKIP
    if key in _RESOURCE_KEYS:
        return {"id": _A_ID, "text": _SKIP, "meta": _A_META, "contained": _A_CONTAINED}[key]
    if key in _SPECIAL_KEYS:
        return _SPECIAL
    return _string_action(key)


def _object_action(key: str) -> int:
    if not key:
        raise _Stop(QuarantineReason.FHIR_VALIDATION_FAILED, "a JSON member has an empty name")
    if key in _DROP_KEYS or key[:1] == "_":
        return _SKIP
    if key in _SPECIAL_KEYS:
        return _SPECIAL
    return _string_action(key)


# What obj() does with an element, by its key tuple (the shape tests depend on the keys alone, except the
# Quantity value type and the Reference value type, checked at run time). Kinds:
_K_SELF, _K_QUANTITY, _K_REFERENCE, _K_CONCEPT, _K_RESOURCE, _K_GENERIC = range(6)
_PLAN_CACHE_MAX = 4096
_PLANS: dict[tuple, tuple] = {}
_PLANS_ONE: dict[str, tuple] = {}  # the same plans for one-member elements, keyed by that member's key


def _plan(keys: tuple) -> tuple:
    """(kind, is_ref, is_attachment, actions aligned with ``keys``) of an element with these keys, in the order
    of the shape tests of :meth:`_Engine.obj`'s general path."""
    ks = frozenset(keys)
    coded = "code" in ks or "system" in ks
    if ks <= _CODING_KEYS:
        if coded:
            return (_K_SELF, False, False, ())
    elif ks <= _QUANTITY_KEYS and coded:
        return (_K_QUANTITY, *_generic_plan(keys, ks))
    if ks <= _REFERENCE_KEYS:
        return (_K_REFERENCE, *_generic_plan(keys, ks)) if ks else (_K_CONCEPT, False, False, ())
    if ks <= _CONCEPT_KEYS:
        return (_K_CONCEPT, False, False, ())
    if "resourceType" in ks:
        return (_K_RESOURCE, False, False, ())
    return (_K_GENERIC, *_generic_plan(keys, ks))


def _generic_plan(keys: tuple, ks: frozenset) -> tuple:
    is_ref = "reference" in ks or "identifier" in ks
    display_only = "display" in ks and not is_ref and "code" not in ks and "system" not in ks
    # a Reference carrying only a display (a person's or an institution's name): the element stays valid
    # but says nothing
    acts = tuple([_DISPLAY_NONE if display_only and k == "display" else _object_action(k) for k in keys])
    return (is_ref or display_only, "contentType" in ks, acts)


_PATIENT_KEYS = ("subject", "patient", "beneficiary", "individual")


@dataclass(frozen=True, slots=True, kw_only=True)
class FhirOptions:
    """Options of the FHIR de-identification.

    Parameters
    ----------
    age_bands : tuple of int
        Lower bounds of the age bands, ascending from 0; the last is open (``"90+"``).
    age_reference_date : datetime.date, optional
        Date at which the age band is computed (e.g. the protocol's index date).
        Default: the patient's latest clinical date seen in the same call.
    safe_extensions : frozenset of str
        Extension URLs kept; every other extension is dropped.
    validate : {"sample", "all", "none"}, default "sample"
        Which de-identified resources are validated with fhir.resources R4B.
    validation_sample : int, default 64
        With ``validate="sample"``, one resource in this many (chosen by a hash
        of its output id, so the choice is deterministic).
    max_depth : int, default 64
        JSON nesting deeper than this quarantines the resource; at most
        :data:`MAX_DEPTH_LIMIT`, so that the walk stays far from the interpreter's
        recursion limit and quarantines alike whether its module is compiled or not.
    """

    age_bands: tuple[int, ...] = (0, 18, 30, 40, 50, 60, 70, 80, 90)
    age_reference_date: _dt.date | None = None
    safe_extensions: frozenset[str] = SAFE_EXTENSIONS
    validate: str = "sample"
    validation_sample: int = 64
    max_depth: int = 64

    def __post_init__(self) -> None:
        if self.validate not in ("sample", "all", "none"):
            raise OptionsError(f"validate must be 'sample', 'all' or 'none', got {self.validate!r}")
        if not isinstance(self.validation_sample, int) or self.validation_sample < 1:
            raise OptionsError(f"validation_sample must be a positive int, got {self.validation_sample!r}")
        if not isinstance(self.max_depth, int) or not 4 <= self.max_depth <= MAX_DEPTH_LIMIT:
            raise OptionsError(f"max_depth must be an int in [4, {MAX_DEPTH_LIMIT}], got {self.max_depth!r}")
        bands = tuple(self.age_bands)
        if not bands or bands[0] != 0 or any(b <= a for a, b in zip(bands, bands[1:])):
            raise OptionsError(f"age_bands must be strictly ascending lower bounds starting at 0, got {bands!r}")
        object.__setattr__(self, "age_bands", bands)
        object.__setattr__(self, "safe_extensions", frozenset(self.safe_extensions) | {AGE_BAND_EXTENSION_URL})


@dataclass(frozen=True, slots=True, kw_only=True)
class FhirPatient:
    """Per-patient facts the corpus index uses (no PHI).

    Attributes
    ----------
    pseudonym : str
        The (site, MRN) patient pseudonym, equal to DICOM's de-identified Patient ID.
    date_shift_days : int
        Days added to every date of this patient (0 when already de-identified).
    age_band : str
        For example ``"40-49"`` or ``"unknown"``.
    gender : str
        ``Patient.gender`` as given (administrative gender code) or ``""``.
    """

    pseudonym: str
    date_shift_days: int
    age_band: str
    gender: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class FhirResult:
    """Outcome of de-identifying FHIR input.

    Attributes
    ----------
    resources : tuple of dict
        De-identified resources, in input order, without the quarantined ones.
    bundle : dict or None
        The de-identified Bundle when the input was a Bundle.
    quarantined : tuple of Quarantined
        One record per resource (or whole document) kept out, with its location
        (``"entry[3] Observation"``, ``"line 7"``) and reason.
    patients : tuple of FhirPatient
        The patients seen, for the corpus index.
    """

    resources: tuple[dict, ...] = ()
    bundle: dict | None = None
    quarantined: tuple[Quarantined, ...] = ()
    patients: tuple[FhirPatient, ...] = ()


class _Stop(Exception):
    def __init__(self, reason: QuarantineReason, detail: str) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.detail = detail


class _Patient:
    """What the walk knows of one patient: pseudonym, date shift, PHI scanner, and what it gathered so far."""

    __slots__ = ("pseudonym", "shift", "scanner", "gender", "birth", "latest", "outputs", "dates")

    def __init__(
        self, *, pseudonym: str, shift: int, scanner: FreeTextScanner, gender: str = "", birth: _dt.date | None = None
    ) -> None:
        self.pseudonym = pseudonym
        self.shift = shift
        self.scanner = scanner
        self.gender = gender
        self.birth = birth
        self.latest = ""  # latest full date seen (YYYY-MM-DD), for the default age reference
        self.outputs: list[dict] = []  # the de-identified Patient resources (the age band is added at the end)
        self.dates: dict[str, str] = {}  # full-date string -> shifted (memo; no key dependence)


_NO_LOCAL: dict[str, str] = {}  # no contained resources (never written)
_KNOWN_TYPES: dict[str, bool] = {}  # resourceType -> whether R4B defines it as a concrete resource (bounded memo)


def _known_resource_type(name: Any, _cache: dict[str, bool] = _KNOWN_TYPES) -> bool:
    hit = _cache.get(name) if type(name) is str else False
    if hit is None:
        if not _TYPE.match(name):
            return False
        from fhir.resources.R4B import get_fhir_model_class
        from fhir.resources.R4B.resource import Resource

        try:
            cls = get_fhir_model_class(name)
            hit = issubclass(cls, Resource) and cls.get_resource_type() == name and name not in _ABSTRACT
        except Exception:
            hit = False
        if len(_cache) < 4096:
            _cache[name] = hit
    return hit


def _validate(resource: dict) -> str | None:
    """Validate with fhir.resources R4B; return a PHI-free description of the errors or None."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except Exception as exc:
        errors = getattr(exc, "errors", None)
        if callable(errors):
            try:
                locs = sorted({".".join(str(p) for p in e.get("loc", ()))[:80] for e in errors()})[:5]
                return f"{len(errors())} error(s) at " + ", ".join(locs)
            except Exception:
                pass
        return f"validation raised {type(exc).__name__}"
    return None


def _is_mr(identifier: dict) -> bool:
    coding = ((identifier.get("type") or {}).get("coding")) or []
    return any(isinstance(c, dict) and c.get("code") == "MR" for c in coding)


def _is_pseuded(resource: dict) -> bool:
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return False
    return any(
        isinstance(s, dict) and s.get("code") == "PSEUDED" and s.get("system") == PSEUDED_SECURITY["system"]
        for s in meta.get("security") or ()
    )


def _has_pseuded_code(security: Any) -> bool:
    """Whether a ``meta.security`` list already holds a ``PSEUDED`` label (any system)."""
    for s in security:
        if isinstance(s, dict) and s.get("code") == "PSEUDED":
            return True
    return False


def _harvest(patient: dict) -> list[str]:
    """PHI tokens of a Patient resource for the free-text scanner."""
    tokens: list[str] = []

    def strings(v: Any, depth: int = 0) -> Iterable[str]:
        if depth > _MAX_HARVEST_DEPTH:  # a fixed bound, not the interpreter's: same outcome compiled or not
            raise RecursionError("a Patient element is nested too deeply")
        if isinstance(v, str):
            yield v
        elif isinstance(v, list):
            for x in v:
                yield from strings(x, depth + 1)
        elif isinstance(v, dict):
            for x in v.values():
                yield from strings(x, depth + 1)

    for name in patient.get("name") or ():
        if isinstance(name, dict):
            for k in ("family", "given", "text", "prefix", "suffix"):
                for s in strings(name.get(k)):
                    tokens.append(s)
                    tokens.extend(s.split())
    for addr in patient.get("address") or ():
        if isinstance(addr, dict):
            for k in ("line", "city", "district", "postalCode", "text"):
                tokens.extend(strings(addr.get(k)))
    for tel in patient.get("telecom") or ():
        if isinstance(tel, dict) and isinstance(tel.get("value"), str):
            tokens.append(tel["value"])
    for ident in patient.get("identifier") or ():
        if isinstance(ident, dict) and isinstance(ident.get("value"), str):
            tokens.append(ident["value"])
    for ext in patient.get("extension") or ():
        if isinstance(ext, dict) and ext.get("url") not in SAFE_EXTENSIONS:
            for k, v in ext.items():
                if k.startswith("value"):
                    tokens.extend(strings(v))
    for contact in patient.get("contact") or ():
        if isinstance(contact, dict):
            tokens.extend(s for s in strings(contact.get("name")) if s)
    birth = patient.get("birthDate")
    if isinstance(birth, str) and len(birth) == 10:
        y, m, d = birth[:4], birth[5:7], birth[8:10]
        tokens += [birth, f"{y}{m}{d}", f"{m}/{d}/{y}", f"{d}/{m}/{y}", f"{d}.{m}.{y}"]
    return tokens


def _parse_date(value: str) -> _dt.date | None:
    try:
        return _dt.date(int(value[:4]), int(value[5:7]), int(value[8:10]))
    except (ValueError, IndexError):
        return None


class _Engine:
    """One de-identification call: pseudonymizer, site, options and the patients seen so far."""

    def __init__(self, pseudo: Pseudonymizer, site: str, options: FhirOptions) -> None:
        if not isinstance(site, str) or not site:
            raise OptionsError("site must be a non-empty site code such as 'H01'")
        self.pseudo = pseudo
        self.site = site
        self.options = options
        self.max_depth = options.max_depth
        self.patients: dict[str, _Patient] = {}  # original logical id -> patient
        self.fullurls: dict[str, tuple[str, str]] | None = None  # urn:uuid -> (type, id) inside a Bundle
        self.default_scanner = FreeTextScanner()
        self._nobody: _Patient | None = None
        self.used_urns: set[str] = set()
        self._ref_cache: dict[str, tuple[str, str]] = {}
        self._pref_cache: dict[str, str | None] = {}  # reference -> Patient logical id (fullurls is set before use)
        self._date_memo: dict[tuple[str, int], str] = {}
        self.validate_mode = options.validate
        self.validation_sample = options.validation_sample
        self._type_crc: dict[str, int] = {}  # resourceType -> crc32 of "<type>/" (should_validate)

    # -- patients ---------------------------------------------------------------
    def register_patient(self, resource: dict, mrn: str | None = None) -> _Patient:
        rid = resource.get("id")
        rid = rid if isinstance(rid, str) else ""
        if rid and rid in self.patients:
            return self.patients[rid]
        if self.pseudo.is_patient_id(rid) and _is_pseuded(resource):
            pseudonym, shift = rid, 0
        else:
            if mrn is None:
                for ident in resource.get("identifier") or ():
                    if isinstance(ident, dict) and _is_mr(ident) and isinstance(ident.get("value"), str):
                        mrn = ident["value"]
                        break
            pseudonym = self.pseudo.patient_id(self.site, mrn if mrn is not None else rid)
            shift = self.pseudo.date_shift_days(pseudonym)
        birth = resource.get("birthDate")
        gender = resource.get("gender")
        pat = _Patient(
            pseudonym=pseudonym,
            shift=shift,
            scanner=FreeTextScanner(_harvest(resource)),
            gender=gender if isinstance(gender, str) else "",
            birth=_parse_date(birth) if isinstance(birth, str) and len(birth) >= 10 else None,
        )
        if rid:
            self.patients[rid] = pat
        return pat

    def _patient_for_id(self, pid: str) -> _Patient:
        pat = self.patients.get(pid)
        if pat is None:  # a Patient not in this call: key on its logical id
            pat = self.register_patient({"resourceType": "Patient", "id": pid}, mrn=None)
        return pat

    def _nobody_patient(self) -> _Patient:
        if self._nobody is None:
            pseudonym = self.pseudo.patient_id(self.site, "")
            self._nobody = _Patient(pseudonym=pseudonym, shift=self.pseudo.date_shift_days(pseudonym),
                                    scanner=self.default_scanner)
        return self._nobody

    def patient_of(self, resource: dict) -> _Patient:
        if resource.get("resourceType") == "Patient":
            return self.register_patient(resource)
        for key in _PATIENT_KEYS:
            ref = resource.get(key)
            if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
                text = ref["reference"]
                pid = self._pref_cache.get(text, _DROP)
                if pid is _DROP:
                    pid = self._patient_ref_id(text)
                    if len(self._pref_cache) < 100_000:
                        self._pref_cache[text] = pid
                if pid is not None:
                    return self._patient_for_id(pid)
        if len(self.patients) == 1:
            return next(iter(self.patients.values()))
        return self._nobody_patient()

    def _patient_ref_id(self, ref: str) -> str | None:
        m = _RELATIVE.match(ref) or _ABSOLUTE.match(ref)
        if m and m.group(1) == "Patient":
            return m.group(2)
        if ref.startswith("urn:uuid:") and self.fullurls is not None:
            target = self.fullurls.get(ref.lower())
            if target and target[0] == "Patient":
                return target[1]
        return None

    # -- ids and references ---------------------------------------------------
    def map_id(self, rtype: str, rid: str) -> str:
        if rtype == "Patient":
            return self._patient_for_id(rid).pseudonym
        if len(rid) == 36 and _is_uuid(rid):
            # a UUID id maps exactly like its urn:uuid fullUrl, so "fullUrl = urn:uuid:<id>" still holds
            return self.pseudo.uuid(self.site, rid)
        return self.pseudo.resource_id(self.site, rtype, rid)

    def is_our_id(self, rtype: str, rid: str) -> bool:
        if rtype == "Patient":
            return self.pseudo.is_patient_id(rid)
        return self.pseudo.is_pseudonym_uuid(rid) or self.pseudo.is_resource_id(rid)

    def reference(self, ref: str, local: dict[str, str]) -> str:
        if not ref:
            raise _Stop(QuarantineReason.FHIR_BAD_REFERENCE, "a reference is empty")
        hit = self._ref_cache.get(ref)
        if hit is not None:
            if hit[1]:
                self.used_urns.add(hit[1])
            return hit[0]
        out = self._reference(ref, local)
        if ref[0] != "#":
            self._ref_cache[ref] = (out, ref.lower() if ref[:9] == "urn:uuid:" else "")
        return out

    def _reference(self, ref: str, local: dict[str, str]) -> str:
        if not ref:
            raise _Stop(QuarantineReason.FHIR_BAD_REFERENCE, "a reference is empty")
        if ref.startswith("#"):
            target = ref[1:]
            if target not in local:
                raise _Stop(QuarantineReason.FHIR_BAD_REFERENCE, "a '#' reference names no contained resource")
            return "#" + local[target]
        if ref[:9] == "urn:uuid:":
            u = ref[9:]
            if not _is_uuid(u):
                raise _Stop(QuarantineReason.FHIR_BAD_REFERENCE, "a urn:uuid reference is not a UUID")
            if self.fullurls is not None:
                low = ref.lower()
                if low not in self.fullurls:
                    raise _Stop(QuarantineReason.FHIR_BAD_REFERENCE, "a urn:uuid reference does not resolve in its Bundle")
                self.used_urns.add(low)
            return "urn:uuid:" + self.pseudo.uuid(self.site, u)
        slash = ref.find("/")
        if slash > 0:  # the commonest reference, Type/<uuid> of a known type: what _RELATIVE would match
            rtype = ref[:slash]
            if _KNOWN_TYPES.get(rtype) is True and len(ref) - slash == 37:
                rid = ref[slash + 1:]
                if _is_uuid(rid):
                    return f"{rtype}/{self.map_id(rtype, rid)}"
        m = _RELATIVE.match(ref) or _ABSOLUTE.match(ref)
        if m:
            rtype, rid = m.group(1), m.group(2)
            if not _known_resource_type(rtype):
                raise _Stop(QuarantineReason.FHIR_BAD_REFERENCE, f"reference to unknown resource type {rtype[:40]}")
            return f"{rtype}/{self.map_id(rtype, rid)}"
        m = _CONDITIONAL.match(ref)
        if m and _known_resource_type(m.group(1)):
            system = m.group(2)
            return f"{m.group(1)}?identifier={system}|{self.pseudo.identifier_value(self.site, system, m.group(3))}"
        raise _Stop(QuarantineReason.FHIR_BAD_REFERENCE, "a reference is neither Type/id, an absolute URL, urn:uuid, #local nor Type?identifier=")

    # -- the walk ---------------------------------------------------------------
    def resource(self, res: Any, pat: _Patient, depth: int = 0, *, top: bool = True) -> dict:
        if not isinstance(res, dict):
            raise _Stop(QuarantineReason.FHIR_VALIDATION_FAILED, "a resource is not a JSON object")
        rtype = res.get("resourceType")
        if (_KNOWN_TYPES.get(rtype) if type(rtype) is str else False) is not True and not _known_resource_type(rtype):
            raise _Stop(QuarantineReason.FHIR_UNKNOWN_RESOURCE_TYPE, "resourceType missing or not an R4B resource")
        meta_in = res.get("meta")
        already = type(meta_in) is dict and "security" in meta_in and _is_pseuded(res)
        if already:
            rid = res.get("id")
            ours = isinstance(rid, str) and self.is_our_id(rtype, rid)
            if ours and pat.shift != 0:
                pat = _Patient(pseudonym=pat.pseudonym, shift=0, scanner=pat.scanner)
        local: dict[str, str] = {}
        contained = res.get("contained")
        if contained is not None:
            if not isinstance(contained, list):
                raise _Stop(QuarantineReason.FHIR_VALIDATION_FAILED, "contained is not a list")
            for c in contained:
                cid = c.get("id") if isinstance(c, dict) else None
                if not isinstance(cid, str) or not _ID.match(cid):
                    raise _Stop(QuarantineReason.FHIR_VALIDATION_FAILED, "a contained resource has no valid id")
                local[cid] = cid if self.pseudo.is_resource_id(cid) else self.pseudo.resource_id(self.site, "#", cid)
        shape = (rtype, *res)
        acts = _RESOURCE_PLANS.get(shape)
        if acts is None:
            acts = tuple([_resource_action(rtype, k) for k in shape[1:]])
            if len(_RESOURCE_PLANS) < _PLAN_CACHE_MAX:
                _RESOURCE_PLANS[shape] = acts
        out: dict[str, Any] = {"resourceType": rtype}
        i = 0
        for k, v in res.items():
            act = acts[i]
            i += 1
            if act <= _NOSCAN:  # _TEXT, _SCAN or _NOSCAN
                t = type(v)
                if t is str:
                    sv = v  # the same string, typed str in the compiled build (fhir.pxd)
                    if act == _TEXT and not (sv and sv[0].isdigit()):
                        nv = pat.scanner.clean(sv)
                    else:
                        nv = v if act == _NOSCAN else self.string(k, v, pat)
                elif t is dict:
                    nv = self.obj(k, v, pat, local, depth + 1)
                elif t is list:
                    nv = self.array(k, v, pat, local, depth + 1)
                else:
                    out[k] = v
                    continue
                if nv is not _DROP:
                    out[k] = nv
            elif act == _SKIP:
                continue
            elif act == _SPECIAL:
                nv = self.member(k, v, pat, local, depth, False, False)
                if nv is not _DROP:
                    out[k] = nv
            elif k == "id":
                if not isinstance(v, str) or not _ID.match(v):
                    raise _Stop(QuarantineReason.FHIR_VALIDATION_FAILED, "id is not a valid FHIR id")
                out["id"] = local.get(v, v) if not top else self.map_id(rtype, v)
            elif k == "meta":
                meta = self.meta(v, pat, local, depth + 1)
                if meta is not _DROP:
                    out["meta"] = meta
            elif k == "contained":
                out["contained"] = [self._contained(c, pat, local, depth + 1) for c in v]
        meta = out.get("meta")
        if meta is None:
            out["meta"] = {"security": [dict(PSEUDED_SECURITY)]}
        else:
            sec = meta.setdefault("security", [])
            if not already or not _has_pseuded_code(sec):
                sec.append(dict(PSEUDED_SECURITY))
        if rtype == "Patient" and top:
            pat.outputs.append(out)
        return out

    def _contained(self, c: dict, pat: _Patient, local: dict[str, str], depth: int) -> dict:
        out = self.resource(c, pat, depth, top=False)
        out["id"] = local[c["id"]]
        return out

    def meta(self, v: Any, pat: _Patient, local: dict[str, str], depth: int) -> Any:
        if not isinstance(v, dict):
            raise _Stop(QuarantineReason.FHIR_VALIDATION_FAILED, "meta is not an object")
        out = {}
        for k, x in v.items():
            if k in ("source", "extension") or k[:1] == "_":
                continue
            nx = self.array(k, x, pat, local, depth + 1) if type(x) is list else self.value(k, x, pat, local, depth + 1)
            if nx is not _DROP:
                out[k] = nx
        return out or _DROP

    def value(self, key: str, v: Any, pat: _Patient, local: dict[str, str], depth: int) -> Any:
        t = type(v)
        if t is str:
            return self.string(key, v, pat)
        if t is dict:
            return self.obj(key, v, pat, local, depth)
        if t is list:
            return self.array(key, v, pat, local, depth)
        return v

    def array(self, key: str, v: list, pat: _Patient, local: dict[str, str], depth: int) -> Any:
        if depth > self.max_depth:
            raise _Stop(QuarantineReason.NESTING_TOO_DEEP, f"JSON nested deeper than {self.max_depth} levels")
        out: list[Any] = []
        no_scan = key in _NO_SCAN
        for item in v:
            t = type(item)
            if t is str:
                if no_scan:  # string() would return it unchanged
                    out.append(item)
                    continue
                r = self.string(key, item, pat)
            elif t is dict:
                r = self.obj(key, item, pat, local, depth + 1)
            elif t is list:
                r = self.array(key, item, pat, local, depth + 1)
            else:
                r = item
            if r is not _DROP:
                out.append(r)  # a direct list append in the compiled build (a bound method would be a Python call)
        return out if out else _DROP

    def string(self, key: str, v: str, pat: _Patient) -> Any:
        if key in _NO_SCAN:
            return v
        if key == "uid":  # ImagingStudy series/instance UIDs: the same pseudonym DICOM gets
            return self.pseudo.uid(v) if len(v) <= 64 and _DICOM_UID.match(v) else _DROP
        if not (v and v[0].isdigit()):  # not a date: blank date fields go, everything else is free text
            if (not v or v.isspace()) and self._date_key(key):
                return _DROP
            return pat.scanner.clean(v)
        hit = pat.dates.get(v)  # only strings that matched _DATE_VALUE are memoised here
        if hit is not None:
            if len(v) >= 10 and v[:10] > pat.latest:
                pat.latest = v[:10]
            return hit
        if _DATE_VALUE.match(v) or (len(v) == 4 and v.isdigit() and self._date_key(key)):
            memo_key = (v, pat.shift)
            shifted = self._date_memo.get(memo_key)
            if shifted is None:
                shifted = shift_fhir_date(v, pat.shift)
                if shifted is None:
                    return _DROP
                if len(self._date_memo) < 100_000:
                    self._date_memo[memo_key] = shifted
            if len(v) != 4 and len(pat.dates) < 100_000:  # a bare year is a date only under a date key
                pat.dates[v] = shifted
            if len(v) >= 10 and v[:10] > pat.latest:
                pat.latest = v[:10]
            return shifted
        if self._date_key(key) and not v.strip():
            return _DROP
        return pat.scanner.clean(v)

    @staticmethod
    def _date_key(key: str) -> bool:
        return key in _DATE_KEYS or key.endswith(("Date", "DateTime", "Instant"))

    def obj(self, key: str, d: dict, pat: _Patient, local: dict[str, str], depth: int) -> Any:
        if depth > self.max_depth:
            raise _Stop(QuarantineReason.NESTING_TOO_DEEP, f"JSON nested deeper than {self.max_depth} levels")
        if len(d) == 1:  # the commonest shape (a Reference, codings only): planned by its key, no key tuple
            for only in d:
                plan = _PLANS_ONE.get(only)
                if plan is None:
                    plan = _plan((only,))
                    if len(_PLANS_ONE) < _PLAN_CACHE_MAX:
                        _PLANS_ONE[only] = plan
        else:
            shape = tuple(d)
            plan = _PLANS.get(shape)
            if plan is None:
                plan = _plan(shape)
                if len(_PLANS) < _PLAN_CACHE_MAX:
                    _PLANS[shape] = plan
        kind = plan[0]
        if kind == _K_REFERENCE:
            ref = d.get("reference")
            if type(ref) is str:
                hit = self._ref_cache.get(ref)
                if hit is not None:  # reference() inlined for its cache hit
                    if hit[1]:
                        self.used_urns.add(hit[1])
                    return {"reference": hit[0]}
                return {"reference": self.reference(ref, local)}
        elif kind == _K_CONCEPT:  # CodeableConcept: codings kept, text scanned; coding first
            out = {}
            coding = d.get("coding")
            if coding is not None:
                shared = type(coding) is list
                if shared:
                    for c in coding:
                        if type(c) is not dict or not c.keys() <= _CODING_KEYS or ("code" not in c and "system" not in c):
                            shared = False
                            break
                if shared:
                    out["coding"] = coding  # shared, like a passed-through Coding
                else:
                    nv = self.value("coding", coding, pat, local, depth + 1)
                    if nv is not _DROP:
                        out["coding"] = nv
            text = d.get("text")
            if type(text) is str:
                out["text"] = pat.scanner.clean(text)
            elif text is not None:
                nv = self.value("text", text, pat, local, depth + 1)
                if nv is not _DROP:
                    out["text"] = nv
            return out or _DROP
        # Coding / Quantity / Money: terminology and numbers, nothing to pseudonymise. The
        # output shares this (small, flat) object with the input.
        elif kind == _K_SELF:
            return d
        elif kind == _K_QUANTITY:
            if type(d.get("value")) is not str:
                return d
        elif kind == _K_RESOURCE:  # a resource nested inside a resource (e.g. Parameters.parameter.resource)
            return self.resource(d, pat, depth, top=False)
        _, is_ref, is_attachment, acts = plan
        out: dict[str, Any] = {}
        i = 0
        for k, v in d.items():
            act = acts[i]
            i += 1
            if act == _SKIP:
                continue
            t = type(v)
            if t is str and act <= _NOSCAN:
                sv = v  # the same string, typed str in the compiled build (fhir.pxd)
                if act == _TEXT and not (sv and sv[0].isdigit()):
                    nv = pat.scanner.clean(sv)
                elif act == _NOSCAN:
                    nv = v
                else:
                    nv = self.string(k, v, pat)
            elif act == _SPECIAL:
                nv = self.member(k, v, pat, local, depth, is_ref, is_attachment)
            elif act == _DISPLAY_NONE:
                nv = REDACTED
            elif t is dict:
                nv = self.obj(k, v, pat, local, depth + 1)
            elif t is list:
                nv = self.array(k, v, pat, local, depth + 1)
            else:
                out[k] = v
                continue
            if nv is not _DROP:
                out[k] = nv
        return out or _DROP

    def member(
        self, k: str, v: Any, pat: _Patient, local: dict[str, str], depth: int, is_ref: bool, is_attachment: bool
    ) -> Any:
        if k == "extension":
            return self.extensions(v, pat, local, depth)
        if k == "modifierExtension":
            self.check_modifiers(v)
            return self.value(k, v, pat, local, depth + 1)
        if k in _IDENTIFIER_KEYS:
            return self.identifiers(v, pat, local, depth)
        if k == "reference" and isinstance(v, str):
            return self.reference(v, local)
        if k == "display" and is_ref:
            return REDACTED if v is None else _DROP
        if is_attachment and k in ("url", "title"):
            return _DROP
        if k == "text" and isinstance(v, dict):
            return _DROP
        return self.value(k, v, pat, local, depth + 1)

    def extensions(self, v: Any, pat: _Patient, local: dict[str, str], depth: int) -> Any:
        if not isinstance(v, list):
            raise _Stop(QuarantineReason.FHIR_VALIDATION_FAILED, "extension is not a list")
        kept = [e for e in v if isinstance(e, dict) and e.get("url") in self.options.safe_extensions]
        return self.value("extension", kept, pat, local, depth + 1) if kept else _DROP

    def check_modifiers(self, v: Any) -> None:
        if not isinstance(v, list) or any(
            not isinstance(e, dict) or e.get("url") not in self.options.safe_extensions for e in v
        ):
            raise _Stop(
                QuarantineReason.FHIR_UNKNOWN_MODIFIER_EXTENSION,
                "a modifierExtension is not in the allow-list; its meaning cannot be preserved",
            )

    def identifiers(self, v: Any, pat: _Patient, local: dict[str, str], depth: int) -> Any:
        items = v if isinstance(v, list) else [v]
        out = []
        for ident in items:
            if not isinstance(ident, dict):
                raise _Stop(QuarantineReason.FHIR_VALIDATION_FAILED, "an identifier is not an object")
            new = {}
            for k, x in ident.items():
                if k == "value" and isinstance(x, str):
                    system = ident.get("system") if isinstance(ident.get("system"), str) else ""
                    if x.startswith("urn:oid:") and len(x) <= 72 and _DICOM_UID.match(x[8:]):
                        # e.g. ImagingStudy.identifier = Study Instance UID: map it exactly as DICOM does
                        new[k] = "urn:oid:" + self.pseudo.uid(x[8:])
                    elif _is_mr(ident) and pat.pseudonym and self.pseudo.patient_id(self.site, x) == pat.pseudonym:
                        new[k] = pat.pseudonym
                    else:
                        new[k] = self.pseudo.identifier_value(self.site, system, x)
                elif k in _DROP_KEYS or k[:1] == "_" or k == "extension":
                    continue
                else:
                    nx = self.value(k, x, pat, local, depth + 1)
                    if nx is not _DROP:
                        new[k] = nx
            if new:
                out.append(new)
        if not out:
            return _DROP
        return out if isinstance(v, list) else out[0]

    # -- finishing --------------------------------------------------------------
    def finish_patients(self) -> tuple[FhirPatient, ...]:
        seen: dict[str, FhirPatient] = {}
        for pat in self.patients.values():
            if pat.pseudonym in seen:
                continue
            ref = self.options.age_reference_date or (_parse_date(pat.latest) if pat.latest else None)
            if pat.birth is not None and ref is not None and ref >= pat.birth:
                band = age_band(age_in_years(pat.birth, ref), self.options.age_bands)
            else:
                band = "unknown"
            for out in pat.outputs:
                exts = [e for e in out.get("extension", []) if e.get("url") != AGE_BAND_EXTENSION_URL]
                existing = [e for e in out.get("extension", []) if e.get("url") == AGE_BAND_EXTENSION_URL]
                if pat.birth is None and existing:
                    band = existing[0].get("valueString", band)  # already de-identified input
                exts.append({"url": AGE_BAND_EXTENSION_URL, "valueString": band})
                out["extension"] = exts
            seen[pat.pseudonym] = FhirPatient(
                pseudonym=pat.pseudonym, date_shift_days=pat.shift, age_band=band, gender=pat.gender
            )
        return tuple(seen.values())

    def should_validate(self, out: dict) -> bool:
        mode = self.validate_mode
        if mode == "all":
            return True
        if mode == "none":
            return False
        rtype = out.get("resourceType")
        rid = out.get("id", "")
        if type(rtype) is str and type(rid) is str:
            # crc32 of "<type>/<id>" continued from the crc32 of "<type>/", kept per type: the same number
            prefix = self._type_crc.get(rtype)
            if prefix is None:
                prefix = zlib.crc32(f"{rtype}/".encode())
                if len(self._type_crc) < 4096:
                    self._type_crc[rtype] = prefix
            return zlib.crc32(rid.encode(), prefix) % self.validation_sample == 0
        key = f"{rtype}/{rid}".encode()
        return zlib.crc32(key) % self.validation_sample == 0


def _never_raise(fn):
    """Turn an unexpected failure on input data into a quarantine record; caller errors still raise."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> FhirResult:
        # The walk allocates many short-lived, acyclic containers; the cyclic collector would
        # rescan the whole parsed document many times over for nothing. Pause it for the call.
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            return fn(*args, **kwargs)
        except DeidError:
            raise
        except RecursionError:
            return FhirResult(quarantined=(_q(QuarantineReason.NESTING_TOO_DEEP, "JSON nested too deeply", "input"),))
        except Exception as exc:  # never echo the message: it may quote input values
            return FhirResult(
                quarantined=(_q(QuarantineReason.INTERNAL_ERROR, f"unexpected {type(exc).__name__}", "input"),)
            )
        finally:
            if paused:
                gc.enable()

    return wrapper


def _q(reason: QuarantineReason, detail: str, location: str) -> Quarantined:
    return Quarantined(reason=reason, detail=f"{location}: {detail}" if location else detail)


def _run_one(
    engine: _Engine, res: Any, where: Any, locate: Any = None, pat: _Patient | None = None
) -> tuple[dict | None, Quarantined | None]:
    """De-identify one resource; on failure a quarantine record located by ``locate(where, res)`` (or ``where``
    itself when ``locate`` is None: the location text is only built when something is quarantined)."""
    try:
        if not isinstance(res, dict):
            raise _Stop(QuarantineReason.FHIR_VALIDATION_FAILED, "not a JSON object")
        if pat is None:
            pat = engine.patient_of(res)
        return engine.resource(res, pat), None
    except _Stop as stop:
        return None, _q(stop.reason, stop.detail, locate(where, res) if locate else where)
    except RecursionError:
        return None, _q(QuarantineReason.NESTING_TOO_DEEP, "JSON nested too deeply", locate(where, res) if locate else where)
    except Exception as exc:  # never crash on input; never echo values
        return None, _q(QuarantineReason.INTERNAL_ERROR, f"unexpected {type(exc).__name__}",
                        locate(where, res) if locate else where)


def _line_location(n: int, r: Any = None) -> str:
    return f"line {n}"


def _entry_location(i: int, r: Any) -> str:
    rtype = r.get("resourceType") if isinstance(r, dict) else None
    return f"entry[{i}] {rtype if isinstance(rtype, str) and _TYPE.match(rtype) else 'resource'}"


def _entry_resource_location(entries: list) -> Any:
    def locate(i: int) -> str:
        e = entries[i]
        return _entry_location(i, e.get("resource") if type(e) is dict else None)

    return locate


def _validate_outputs(engine: _Engine, items: list[tuple[Any, dict]], locate: Any = None) -> dict[int, Quarantined]:
    bad: dict[int, Quarantined] = {}
    if engine.validate_mode == "none":
        return bad
    for i, (where, out) in enumerate(items):
        if engine.should_validate(out):
            problem = _validate(out)
            if problem is not None:
                bad[i] = _q(QuarantineReason.FHIR_VALIDATION_FAILED, problem, locate(where) if locate else where)
    return bad


@_never_raise
def deidentify_fhir_resource(
    resource: dict,
    *,
    pseudonymizer: Pseudonymizer,
    site: str,
    patient_mrn: str | None = None,
    options: FhirOptions | None = None,
) -> FhirResult:
    """De-identify one FHIR resource (a plain dict; the input is not modified).

    Parameters
    ----------
    resource : dict
        A FHIR R4 resource as parsed JSON.
    pseudonymizer : Pseudonymizer
    site : str
        Site code; scopes the patient key (site, MRN) and hashed ids.
    patient_mrn : str, optional
        MRN of the patient this resource belongs to (for a Patient: its own MRN).
        Default: a Patient's MR identifier (or its id); for other resources the
        logical id of the referenced Patient.
    options : FhirOptions, optional

    Returns
    -------
    FhirResult
        ``resources`` has the one de-identified resource, or ``quarantined`` has why not.

    Examples
    --------
    >>> p = Pseudonymizer(b"k" * 32)
    >>> pat = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe"}],
    ...        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "MRN1"}],
    ...        "birthDate": "1980-05-01", "gender": "female"}
    >>> r = deidentify_fhir_resource(pat, pseudonymizer=p, site="H01",
    ...     options=FhirOptions(age_reference_date=__import__("datetime").date(2024, 1, 1)))
    >>> out = r.resources[0]
    >>> out["id"] == p.patient_id("H01", "MRN1"), "name" in out, "birthDate" in out, r.patients[0].age_band
    (True, False, False, '40-49')
    """
    engine = _Engine(pseudonymizer, site, options or FhirOptions())
    pat: _Patient | None = None
    if isinstance(resource, dict):
        if resource.get("resourceType") == "Patient":
            engine.register_patient(resource, mrn=patient_mrn)
        elif patient_mrn is not None:
            pid = ""
            for key in _PATIENT_KEYS:
                ref = resource.get(key)
                if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
                    pid = engine._patient_ref_id(ref["reference"]) or ""
                    if pid:
                        break
            pat = engine.register_patient({"resourceType": "Patient", "id": pid}, mrn=patient_mrn)
    out, quarantined = _run_one(engine, resource, "", None, pat)
    patients = engine.finish_patients()
    if out is not None:
        bad = _validate_outputs(engine, [("", out)])
        if bad:
            return FhirResult(quarantined=tuple(bad.values()), patients=patients)
        return FhirResult(resources=(out,), patients=patients)
    return FhirResult(quarantined=(quarantined,), patients=patients)  # type: ignore[arg-type]


def _parse_document(data: Any) -> Any:
    if isinstance(data, (str, bytes, bytearray)):
        return loads_strict(data)
    return data


@_never_raise
def deidentify_bundle(
    bundle: dict | str | bytes,
    *,
    pseudonymizer: Pseudonymizer,
    site: str,
    options: FhirOptions | None = None,
    patients: Mapping[str, str] | None = None,
    external_fullurls: Iterable[str] = (),
) -> FhirResult:
    """De-identify a FHIR Bundle (dict, or JSON text parsed strictly).

    Entries that cannot be cleaned are quarantined one by one; an entry whose
    ``urn:uuid`` reference points at a quarantined entry is quarantined too, so
    every reference left in the output Bundle resolves.

    Parameters
    ----------
    bundle : dict, str or bytes
        The Bundle; text is parsed refusing duplicate keys and deep nesting.
    pseudonymizer : Pseudonymizer
    site : str
    options : FhirOptions, optional
    patients : Mapping[str, str], optional
        Patient logical id -> MRN for Patients referenced but not contained in the Bundle.
    external_fullurls : iterable of str
        ``urn:uuid`` fullUrls of Bundles ingested together with this one (e.g. a
        hospital's Organization Bundle) that references may point at; any other
        unresolved ``urn:uuid`` reference quarantines its entry.

    Returns
    -------
    FhirResult
        ``bundle`` is the de-identified Bundle (None if the whole document was quarantined).
    """
    options = options or FhirOptions()
    try:
        doc = _parse_document(bundle)
    except StrictJsonError as exc:
        return FhirResult(quarantined=(_q(exc.reason, exc.detail, "bundle"),))
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle" or not isinstance(doc.get("entry", []), list):
        return FhirResult(
            quarantined=(_q(QuarantineReason.FHIR_VALIDATION_FAILED, "not a Bundle with an entry list", "bundle"),)
        )
    engine = _Engine(pseudonymizer, site, options)
    entries = doc.get("entry", [])
    engine.fullurls = {}
    for e in entries:
        if isinstance(e, dict) and isinstance(e.get("fullUrl"), str) and isinstance(e.get("resource"), dict):
            r = e["resource"]
            if isinstance(r.get("resourceType"), str) and isinstance(r.get("id"), str):
                engine.fullurls[e["fullUrl"].lower()] = (r["resourceType"], r["id"])
            else:
                engine.fullurls[e["fullUrl"].lower()] = ("", "")
    for u in external_fullurls:
        engine.fullurls.setdefault(str(u).lower(), ("", ""))
    for pid, mrn in (patients or {}).items():
        engine.register_patient({"resourceType": "Patient", "id": pid}, mrn=mrn)
    for e in entries:
        r = e.get("resource") if isinstance(e, dict) else None
        if isinstance(r, dict) and r.get("resourceType") == "Patient":
            engine.register_patient(r)

    results: list[list] = []  # [entry out or None, quarantine or None, urns used, index]
    for i, e in enumerate(entries):
        r = e.get("resource") if type(e) is dict else None
        engine.used_urns = set()
        out, q = _run_one(engine, r, i, _entry_location)
        entry_out: dict | None = None
        if out is not None:
            try:
                entry_out = _entry(engine, e, out)
            except _Stop as stop:
                out, q = None, _q(stop.reason, stop.detail, _entry_location(i, r))
        results.append([entry_out, q, engine.used_urns, i])

    patients_out = engine.finish_patients()
    kept = [res for res in results if res[0] is not None]
    bad = _validate_outputs(engine, [(res[3], res[0]["resource"]) for res in kept], _entry_resource_location(entries))
    for k, q in bad.items():  # map validation failures back onto results
        kept[k][0], kept[k][1] = None, q
    # cascade: entries that reference a quarantined entry's fullUrl are quarantined too
    while len(kept) != len(results) or bad:
        dead = {
            entries[i]["fullUrl"].lower()
            for i, (eo, q, _, _) in enumerate(results)
            if eo is None and isinstance(entries[i], dict) and isinstance(entries[i].get("fullUrl"), str)
        }
        changed = False
        for i, (eo, q, urns, loc) in enumerate(results):
            if eo is not None and urns & dead:
                results[i] = (None, _q(QuarantineReason.FHIR_BAD_REFERENCE, "refers to a quarantined entry",
                                       _entry_location(loc, entries[loc].get("resource"))), urns, loc)
                changed = True
        if not changed:
            break

    out_bundle: dict[str, Any] = {"resourceType": "Bundle"}
    if isinstance(doc.get("id"), str) and _ID.match(doc["id"]):
        out_bundle["id"] = pseudonymizer.resource_id(site, "Bundle", doc["id"])
    out_bundle["type"] = doc.get("type", "collection")
    out_bundle["entry"] = [eo for eo, _, _, _ in results if eo is not None]
    return FhirResult(
        resources=tuple(eo["resource"] for eo in out_bundle["entry"]),
        bundle=out_bundle,
        quarantined=tuple(q for eo, q, _, _ in results if eo is None and q is not None),
        patients=patients_out,
    )


def _entry(engine: _Engine, e: dict, out: dict) -> dict:
    new: dict[str, Any] = {}
    full = e.get("fullUrl")
    if isinstance(full, str):
        if full[:9] == "urn:uuid:":
            new["fullUrl"] = engine.reference(full, _NO_LOCAL)
        else:
            m = _ABSOLUTE.match(full)
            if not m:
                raise _Stop(QuarantineReason.FHIR_BAD_REFERENCE, "fullUrl is neither urn:uuid nor an absolute resource URL")
            new["fullUrl"] = "urn:uuid:" + engine.pseudo.uuid(engine.site, full)
    new["resource"] = out
    req = e.get("request")
    if isinstance(req, dict):
        method = req.get("method") if req.get("method") in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH") else "POST"
        url = req.get("url")
        if isinstance(url, str) and (_KNOWN_TYPES.get(url) is True or (_TYPE.match(url) and _known_resource_type(url))):
            new_url = url
        elif isinstance(url, str):
            new_url = engine.reference(url, {})
        else:
            new_url = out["resourceType"]
        new["request"] = {"method": method, "url": new_url}
    return new


@_never_raise
def deidentify_ndjson(
    lines: str | bytes | Iterable[str | bytes],
    *,
    pseudonymizer: Pseudonymizer,
    site: str,
    options: FhirOptions | None = None,
    patients: Mapping[str, str] | None = None,
) -> FhirResult:
    """De-identify FHIR Bulk Data NDJSON (one resource per line).

    Patient lines are read first so every resource of a patient gets that
    patient's pseudonym, date shift and PHI tokens; Patients held in another
    file can be passed as ``patients`` (logical id -> MRN). A line that is not
    strict JSON or cannot be cleaned is quarantined with its line number.

    Parameters
    ----------
    lines : str, bytes or iterable of str/bytes
        The NDJSON text or its lines.
    pseudonymizer : Pseudonymizer
    site : str
    options : FhirOptions, optional
    patients : Mapping[str, str], optional

    Returns
    -------
    FhirResult
        ``resources`` in input order; ``bundle`` is None.
    """
    options = options or FhirOptions()
    if isinstance(lines, (str, bytes, bytearray)):
        lines = lines.splitlines()
    engine = _Engine(pseudonymizer, site, options)
    engine.fullurls = {}  # urn:uuid references cannot resolve in NDJSON
    parsed: list[tuple[int, Any, Quarantined | None] | None] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed.append((n, loads_strict(line), None))
        except StrictJsonError as exc:
            parsed.append((n, None, _q(exc.reason, exc.detail, f"line {n}")))
    for pid, mrn in (patients or {}).items():
        engine.register_patient({"resourceType": "Patient", "id": pid}, mrn=mrn)
    for _, res, q in parsed:
        if q is None and isinstance(res, dict) and res.get("resourceType") == "Patient":
            engine.register_patient(res)
    outs: list[tuple[int, dict]] = []
    quarantined: list[Quarantined] = []
    for i in range(len(parsed)):
        n, res, q = parsed[i]
        parsed[i] = None  # this input is read once: freeing it now lets the next outputs reuse its (cached) memory
        if q is not None:
            quarantined.append(q)
            continue
        out, q2 = _run_one(engine, res, n, _line_location)
        if out is None:
            quarantined.append(q2)  # type: ignore[arg-type]
        else:
            outs.append((n, out))
    patients_out = engine.finish_patients()
    bad = _validate_outputs(engine, outs, _line_location)
    quarantined.extend(bad.values())
    return FhirResult(
        resources=tuple(o for i, (_, o) in enumerate(outs) if i not in bad),
        quarantined=tuple(quarantined),
        patients=patients_out,
    )
