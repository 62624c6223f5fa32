"""The ``fhir`` input view of a case: one Bundle of an admission, truncated at the index time.

From a site's identified Bulk Data NDJSON, :class:`AdmissionIndex` finds the Encounter of a visit number, its
Patient, and every resource that points at the Encounter. :func:`case_bundle` keeps only what was known at the
index time, so the outcome cannot leak into the model's input:

* a resource is kept only if every date/time it carries (at any depth, except ``birthDate``) is at or before the
  index time; a date without a time counts as the end of that day, and an unreadable date drops the resource;
* the Encounter loses ``period.end``, ``length`` and ``hospitalization.dischargeDisposition`` and gets
  ``status = in-progress`` (its discharge is in the future at the index time);
* the Patient loses ``deceased[x]``.

De-identification (:func:`datasets.deid.deidentify_bundle`) runs afterwards on the truncated Bundle.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AdmissionIndex", "case_bundle", "TruncatedBundle"]

_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")
_SKIP_KEYS = frozenset({"birthDate"})
_REF_RE = re.compile(r"^(?:.*/)?(Patient|Encounter)/([A-Za-z0-9\-.]{1,64})(?:/_history/.*)?$")


def _ref_target(value: Any, kind: str) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        m = _REF_RE.match(value["reference"])
        if m and m.group(1) == kind:
            return m.group(2)
    return None


def _is_mr(identifier: dict) -> bool:
    t = identifier.get("type")
    if isinstance(t, dict):
        for c in t.get("coding") or ():
            if isinstance(c, dict) and c.get("code") == "MR":
                return True
    return False


@dataclass
class AdmissionIndex:
    """Identified resources of one site, indexed for building case Bundles (in memory; holds PHI)."""

    patients: dict[str, dict] = field(default_factory=dict)
    encounters_by_visit: dict[str, list[dict]] = field(default_factory=dict)
    by_encounter: dict[str, list[dict]] = field(default_factory=dict)

    @classmethod
    def build(cls, resources: Iterable[dict]) -> AdmissionIndex:
        """Index resources (dicts with ``resourceType``) read from the site's NDJSON files, in file order."""
        out = cls()
        for r in resources:
            rtype = r.get("resourceType")
            rid = r.get("id")
            if rtype == "Patient" and isinstance(rid, str):
                out.patients.setdefault(rid, r)
            elif rtype == "Encounter" and isinstance(rid, str):
                for ident in r.get("identifier") or ():
                    if isinstance(ident, dict) and isinstance(ident.get("value"), str):
                        out.encounters_by_visit.setdefault(ident["value"], []).append(r)
            else:
                enc = _ref_target(r.get("encounter"), "Encounter") or _ref_target(r.get("context"), "Encounter")
                if enc is not None:
                    out.by_encounter.setdefault(enc, []).append(r)
        return out

    def patient_mrns(self, patient: dict) -> set[str]:
        return {i["value"] for i in patient.get("identifier") or ()
                if isinstance(i, dict) and _is_mr(i) and isinstance(i.get("value"), str)}


def _times(obj: Any, key: str = "") -> Iterable[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in _SKIP_KEYS:
                yield from _times(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from _times(v, key)
    elif isinstance(obj, str) and key and obj[:1].isdigit() and _DATE_RE.match(obj):
        yield obj


def _instant(text: str, tz: dt.tzinfo) -> dt.datetime | None:
    """Latest instant a FHIR date/dateTime can mean, or None if unreadable."""
    try:
        if "T" in text:
            t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return t if t.tzinfo else t.replace(tzinfo=tz)
        parts = [int(p) for p in text.split("-")]
        if len(parts) == 1:
            d = dt.date(parts[0], 12, 31)
        elif len(parts) == 2:
            nxt = dt.date(parts[0] + (parts[1] == 12), parts[1] % 12 + 1, 1)
            d = nxt - dt.timedelta(days=1)
        else:
            d = dt.date(*parts)
        return dt.datetime.combine(d, dt.time(23, 59, 59), tz)
    except (ValueError, OverflowError):
        return None


def known_at(resource: dict, index_time: dt.datetime) -> bool:
    """Whether every date in ``resource`` is at or before ``index_time`` (see module docstring)."""
    tz = index_time.tzinfo
    for text in _times(resource):
        t = _instant(text, tz)  # type: ignore[arg-type]
        if t is None or t > index_time:
            return False
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class TruncatedBundle:
    """An identified Bundle of one admission cut at the index time, before de-identification."""

    bundle: dict
    kept: int
    dropped_after_index: int


def case_bundle(index: AdmissionIndex, *, mrn: str, visit_number: str,
                index_time: dt.datetime) -> TruncatedBundle | None:
    """The truncated Bundle of the admission ``visit_number`` of patient ``mrn``, or None when the export holds no
    single inpatient Encounter of that visit whose Patient carries that MRN."""
    encounters = index.encounters_by_visit.get(visit_number, [])
    if len(encounters) != 1:
        return None
    enc = encounters[0]
    pid = _ref_target(enc.get("subject"), "Patient")
    patient = index.patients.get(pid) if pid else None
    if patient is None or mrn not in index.patient_mrns(patient):
        return None
    pat = copy.deepcopy(patient)
    for k in [k for k in pat if k.startswith("deceased")]:
        del pat[k]
    e = copy.deepcopy(enc)
    period = e.get("period")
    if isinstance(period, dict):
        period.pop("end", None)
    e.pop("length", None)
    if isinstance(e.get("hospitalization"), dict):
        e["hospitalization"].pop("dischargeDisposition", None)
    e["status"] = "in-progress"
    entries = [{"resource": pat}]
    if not known_at(e, index_time):
        return None  # the admission itself starts after the index time: nothing can be shown
    entries.append({"resource": e})
    kept = dropped = 0
    for r in index.by_encounter.get(enc["id"], ()):
        if known_at(r, index_time):
            entries.append({"resource": r})
            kept += 1
        else:
            dropped += 1
    return TruncatedBundle(bundle={"resourceType": "Bundle", "type": "collection", "entry": entries},
                           kept=kept, dropped_after_index=dropped)
