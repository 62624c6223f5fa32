"""Ingest one site of an export into a corpus version being built (the unit of work of the process pool).

Reads the site's identified files, de-identifies them, stores the inputs by content hash, and writes the site's
``index.parquet`` and ``labels.parquet``. Returns only PHI-free facts: relative paths, hashes and counts.
"""

from __future__ import annotations

import hmac
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from datasets.corpus._fhir_view import AdmissionIndex, case_bundle
from datasets.corpus._reference import ReferenceRow, read_reference
from datasets.corpus._store import store_input, write_durable
from datasets.corpus._tables import index_schema, labels_schema, table_bytes

__all__ = ["SiteOutcome", "ingest_site", "case_id", "DEV_SPLIT_SITES"]

DEV_SPLIT_SITES = frozenset({"DEV"})
"""Sites whose cases form the public development split (``split = "dev"``); every other site is ``"test"``."""
_SEX = {"M": "M", "F": "F", "O": "O", "MALE": "M", "FEMALE": "F", "OTHER": "O"}


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteOutcome:
    """What ingesting one site produced (PHI-free)."""

    site: str
    files: tuple[tuple[str, str, int], ...]  # (relative path, sha256, size)
    cases: dict  # task -> number of cases in the corpus
    report: dict  # the site's part of ingest_report.json


def case_id(secret: bytes, site: str, task: str, key: str) -> str:
    """Pseudonymous case id: ``c_`` + 20 hex digits of HMAC-SHA256(secret, domain, site, task, hospital key)."""
    msg = "\x00".join(("clinval-case-id", site, task, key)).encode("utf-8", "surrogatepass")
    return "c_" + hmac.digest(secret, msg, "sha256")[:10].hex()


def _sex(value: str | None) -> str:
    return _SEX.get((value or "").strip().upper(), "U")


def _peek_ids(data: bytes) -> tuple[str, str] | None:
    """(PatientID, AccessionNumber) of an identified DICOM file, or None if the header cannot be read."""
    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True, stop_before_pixels=True,
                             specific_tags=["PatientID", "AccessionNumber"])
        return (str(ds.get("PatientID", "") or "").strip("\x00 "),
                str(ds.get("AccessionNumber", "") or "").strip("\x00 "))
    except Exception:  # noqa: BLE001 - any parse failure means "unknown case"; the file is quarantined anyway
        return None


def _float_pair(value) -> tuple[float | None, float | None]:
    try:
        if value is None or len(value) != 2:
            return None, None
        return float(value[0]), float(value[1])
    except (TypeError, ValueError):
        return None, None


def _int_or_none(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _image_attributes(ds) -> dict:
    spacing = ds.get("PixelSpacing")
    if spacing is None:
        spacing = ds.get("ImagerPixelSpacing")
    row_sp, col_sp = _float_pair(spacing)
    return {
        "modality": str(ds.get("Modality", "") or ""),
        "manufacturer": str(ds.get("Manufacturer", "") or "") or None,
        "rows": _int_or_none(ds.get("Rows")),
        "columns": _int_or_none(ds.get("Columns")),
        "pixel_spacing_row": row_sp,
        "pixel_spacing_col": col_sp,
        "photometric": str(ds.get("PhotometricInterpretation", "") or "") or None,
        "bits_stored": _int_or_none(ds.get("BitsStored")),
    }


def _reason(q) -> str:
    return q.reason.value if hasattr(q.reason, "value") else str(q.reason)


def _regular_files(folder: Path) -> tuple[list[Path], int]:
    files, other = [], 0
    if not folder.is_dir():
        return files, other
    for p in folder.rglob("*"):
        if p.is_symlink():
            other += 1
        elif p.is_file():
            files.append(p)
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix()), other


def _ingest_dicom(ctx: "_Ctx", rows: tuple[ReferenceRow, ...] | None) -> dict:
    from datasets.deid import deidentify_dicom

    files, links = _regular_files(ctx.src / "dicom")
    by_key = {(r.mrn, r.accession_number): r for r in rows} if rows is not None else {}
    quarantined: Counter = Counter()
    if links:
        quarantined["not_a_regular_file"] += links
    unmatched = duplicate = deidentified = 0
    input_quarantined: set[tuple[str, str]] = set()
    done: set[tuple[str, str]] = set()
    for path in files:
        data = path.read_bytes()
        ids = _peek_ids(data)
        result = deidentify_dicom(data, pseudonymizer=ctx.pseudo, site=ctx.site,
                                  patient_mrn=ids[0] if ids and ids[0] else None)
        if not result.ok:
            quarantined[_reason(result.quarantined)] += 1
            if ids is not None and ids in by_key:
                input_quarantined.add(ids)
            continue
        deidentified += 1
        row = by_key.get(ids) if ids is not None else None
        if row is None:
            unmatched += 1
            continue
        if ids in done:
            duplicate += 1
            continue
        done.add(ids)
        rel, _, _ = store_input(ctx.root, ctx.site, result.to_bytes(), ".dcm")
        cid = case_id(ctx.secret, ctx.site, "cxr-pneumonia", f"{row.mrn}\x00{row.accession_number}")
        ctx.index.append({
            "case_id": cid, "site": ctx.site, "task": "cxr-pneumonia", "split": ctx.split, "input_path": rel,
            "age_band": result.age_band or "unknown", "sex": _sex(result.sex),
            "patient": result.patient_pseudonym, **_image_attributes(result.dataset),
        })
        ctx.labels.append({"case_id": cid, "site": ctx.site, "task": "cxr-pneumonia", "label": row.label,
                           "established_by": row.established_by})
    dicom = {"files_seen": len(files) + links, "deidentified": deidentified,
             "quarantined": dict(sorted(quarantined.items())), "unmatched_files": unmatched,
             "duplicate_inputs": duplicate}
    task = None
    if rows is not None:
        missing = [r for r in rows if (r.mrn, r.accession_number) not in done]
        q_in = sum(1 for r in missing if (r.mrn, r.accession_number) in input_quarantined)
        task = {"excluded": {"input_quarantined": q_in, "no_input": len(missing) - q_in}}
    return {"dicom": dicom, "task": task}


def _read_fhir(ctx: "_Ctx") -> tuple[list[dict], dict]:
    from datasets.deid.fhir_json import StrictJsonError, loads_strict

    files, links = _regular_files(ctx.src / "fhir")
    resources: list[dict] = []
    bad: Counter = Counter()
    if links:
        bad["not_a_regular_file"] += links
    lines = 0
    for path in files:
        if not path.name.endswith(".ndjson"):
            bad["not_ndjson"] += 1
            continue
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            lines += 1
            try:
                obj = loads_strict(line)
            except StrictJsonError as exc:
                bad[exc.reason.value] += 1
                continue
            if isinstance(obj, dict) and isinstance(obj.get("resourceType"), str):
                resources.append(obj)
            else:
                bad["fhir_unknown_resource_type"] += 1
    return resources, {"files_seen": len(files) + links, "resources_seen": lines,
                       "unparseable": dict(sorted(bad.items()))}


def _ingest_aki(ctx: "_Ctx", rows: tuple[ReferenceRow, ...]) -> dict:
    from datasets.deid import FhirOptions, deidentify_bundle

    resources, fhir_report = _read_fhir(ctx)
    index = AdmissionIndex.build(resources)
    del resources
    no_input = input_q = dropped_after = kept_total = 0
    res_q: Counter = Counter()
    case_q: Counter = Counter()
    for row in rows:
        tb = case_bundle(index, mrn=row.mrn, visit_number=row.visit_number, index_time=row.index_time)
        if tb is None:
            no_input += 1
            continue
        options = FhirOptions(age_reference_date=row.index_time.date())
        result = deidentify_bundle(tb.bundle, pseudonymizer=ctx.pseudo, site=ctx.site, options=options)
        out = result.bundle
        types = [e["resource"].get("resourceType") for e in (out or {}).get("entry", ())]
        if out is None or "Patient" not in types or "Encounter" not in types:
            input_q += 1
            for q in result.quarantined:
                case_q[_reason(q)] += 1
            continue
        for q in result.quarantined:
            res_q[_reason(q)] += 1
        dropped_after += tb.dropped_after_index
        kept_total += len(out["entry"]) - 2
        data = json.dumps(out, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        rel, _, _ = store_input(ctx.root, ctx.site, data, ".json")
        pat = result.patients[0] if result.patients else None
        cid = case_id(ctx.secret, ctx.site, "aki-48h", f"{row.mrn}\x00{row.visit_number}")
        ctx.index.append({
            "case_id": cid, "site": ctx.site, "task": "aki-48h", "split": ctx.split, "modality": "FHIR",
            "input_path": rel, "age_band": pat.age_band if pat else "unknown",
            "sex": _sex(pat.gender if pat else None), "manufacturer": None,
            "patient": ctx.pseudo.patient_id(ctx.site, row.mrn),
        })
        ctx.labels.append({"case_id": cid, "site": ctx.site, "task": "aki-48h", "label": row.label,
                           "established_by": row.established_by})
    return {"fhir": fhir_report,
            "task": {"excluded": {"input_quarantined": input_q, "no_input": no_input},
                     "quarantined_cases_by_reason": dict(sorted(case_q.items())),
                     "resources_in_bundles": kept_total, "resources_after_index_dropped": dropped_after,
                     "resources_quarantined": dict(sorted(res_q.items()))}}


class _Ctx:
    def __init__(self, export_dir: Path, root: Path, site: str, secret: bytes) -> None:
        from datasets.deid import Pseudonymizer

        self.src = export_dir / site
        self.root = root
        self.site = site
        self.secret = secret
        self.pseudo = Pseudonymizer(secret)
        self.split = "dev" if site in DEV_SPLIT_SITES else "test"
        self.index: list[dict] = []
        self.labels: list[dict] = []


def ingest_site(export_dir: str, root: str, site: str, tasks: tuple[str, ...], secret: bytes) -> SiteOutcome:
    """De-identify and store one site; write its index and labels. See :func:`datasets.corpus.build_corpus`."""
    ctx = _Ctx(Path(export_dir), Path(root), site, secret)
    report: dict = {"tasks": {}}
    for task in tasks:
        ref_path = ctx.src / "reference" / f"{task}.csv"
        table = read_reference(ref_path, task) if ref_path.is_file() else None
        rows = table.rows if table is not None else ()
        before = len(ctx.index)
        if task == "cxr-pneumonia":
            part = _ingest_dicom(ctx, rows if table is not None else None)
            report["dicom"] = part["dicom"]
            task_part = part["task"] or {"excluded": {"input_quarantined": 0, "no_input": 0}}
        else:
            part = _ingest_aki(ctx, rows)
            report["fhir"] = part["fhir"]
            task_part = part["task"]
        n_cases = len(ctx.index) - before
        positives = sum(lab["label"] for lab in ctx.labels[before:])
        report["tasks"][task] = {
            "reference_file": table is not None,
            "reference_rows": table.seen if table else 0,
            "invalid_rows": table.invalid if table else 0,
            "duplicate_rows": table.duplicate if table else 0,
            "cases": n_cases, "positives": positives, **task_part,
        }
    if "cxr-pneumonia" not in tasks:
        files, links = _regular_files(ctx.src / "dicom")
        report["dicom"] = {"files_seen": len(files) + links, "not_ingested": "task cxr-pneumonia not selected"}
    files = []
    idx_rel = f"sites/{site}/index.parquet"
    lab_rel = f"labels/{site}/labels.parquet"
    files.append((idx_rel, *write_durable(ctx.root / idx_rel, table_bytes(ctx.index, index_schema()))))
    files.append((lab_rel, *write_durable(ctx.root / lab_rel, table_bytes(ctx.labels, labels_schema()))))
    for row in ctx.index:
        p = ctx.root / row["input_path"]
        files.append((row["input_path"], *_digest_of(p)))
    counts = Counter(r["task"] for r in ctx.index)
    return SiteOutcome(site=site, files=tuple(sorted(set(files))), cases=dict(counts), report=report)


def _digest_of(path: Path) -> tuple[str, int]:
    name = path.name
    digest = name.split(".", 1)[0]
    return digest, path.stat().st_size
