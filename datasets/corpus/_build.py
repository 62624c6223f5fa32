"""Build an immutable corpus version from a hospital export: :func:`build_corpus`."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from datasets.corpus._manifest import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    REPORT_NAME,
    canonical_bytes,
    hash_file,
    hashed_files,
)
from datasets.corpus._site import DEV_SPLIT_SITES, SiteOutcome, ingest_site
from datasets.corpus._store import fsync_dir, sync_filesystem, write_durable
from datasets.corpus._version import CorpusVersion, load_corpus, version_from_manifest
from datasets.corpus.errors import CorpusInputError, CorpusIntegrityError, CorpusOptionError, PhiLeakError

__all__ = ["build_corpus", "CORPUS_TASKS", "deid_metadata"]

CORPUS_TASKS = ("cxr-pneumonia", "aki-48h")
"""Tasks an export can be ingested for: ``cxr-pneumonia`` (DICOM view) and ``aki-48h`` (FHIR Bundle view)."""
_SITE_RE = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")
_DEFAULT_WORKERS = 2


def deid_metadata(secret: bytes) -> dict:
    """The de-identification profile and options recorded in the manifest (deterministic, no secret)."""
    from datasets.deid import METHOD_CODES, DeidOptions, FhirOptions

    d = DeidOptions()
    f = FhirOptions()
    table = Path(__file__).resolve().parents[1] / "data" / "annex_e_basic_profile.json"
    options = ["basic"]
    if d.clean_descriptors:
        options.append("clean_descriptors")
    if d.retain_longitudinal_modified_dates:
        options.append("modified_dates")
    if d.retain_patient_characteristics:
        options.append("patient_characteristics")
    if d.retain_device_identity:
        options.append("device_identity")
    return {
        "dicom": {
            "profile": "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile",
            "options": [{"id": o, "code": METHOD_CODES[o][0]} for o in options],
            "profile_table_sha256": hash_file(table)[0] if table.is_file() else None,
            "safe_private_tags": len(d.safe_private),
            "age_bands": list(d.age_bands),
        },
        "fhir": {"age_bands": list(f.age_bands), "validate": f.validate, "validation_sample": f.validation_sample,
                 "age_reference": "index_time", "view": "Bundle of the admission truncated at index_time"},
        "case_id": "c_ + hex(HMAC-SHA256(secret, 'clinval-case-id', site, task, hospital key)[:10])",
        "pseudonym_key_id": hmac.digest(secret, b"clinval-key-id", "sha256")[:8].hex(),
    }


def _resolve_sites(export: Path, sites) -> tuple[str, ...]:
    present = sorted(p.name for p in export.iterdir() if p.is_dir() and not p.is_symlink() and
                     _SITE_RE.match(p.name))
    if sites is None:
        if not present:
            raise CorpusInputError(f"{export} holds no site folder (e.g. H01/ with dicom/, fhir/, reference/); "
                                   "pass the directory written by the hospital export or generate_export.")
        chosen = present
    else:
        if isinstance(sites, str):
            sites = [s.strip() for s in sites.split(",") if s.strip()]
        chosen = []
        for s in sites:
            if not isinstance(s, str) or not _SITE_RE.match(s):
                raise CorpusOptionError(f"site code {s!r} is not valid (upper-case letters and digits, e.g. "
                                        "'H01'); pass codes of folders in the export.")
            if s not in present:
                raise CorpusOptionError(f"site {s} has no folder in the export; present: {present}.")
            chosen.append(s)
        if not chosen:
            raise CorpusOptionError("sites is empty; pass None for every site folder, or codes such as ['H01'].")
    ordered = sorted(set(chosen), key=lambda c: (c not in DEV_SPLIT_SITES, c))
    return tuple(ordered)


def _resolve_tasks(tasks) -> tuple[str, ...]:
    if tasks is None:
        return CORPUS_TASKS
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    tasks = list(tasks)
    unknown = sorted(set(tasks) - set(CORPUS_TASKS))
    if unknown or not tasks:
        raise CorpusOptionError(f"tasks must be one or more of {list(CORPUS_TASKS)}; got {tasks!r}.")
    return tuple(t for t in CORPUS_TASKS if t in tasks)


def _run_sites(export: Path, tmp: Path, sites: tuple[str, ...], tasks: tuple[str, ...], secret: bytes,
               workers: int, progress, per_site: dict[str, int], total: int) -> dict[str, SiteOutcome]:
    outcomes: dict[str, SiteOutcome] = {}
    done = 0
    if workers == 1 or len(sites) == 1:
        for s in sites:
            outcomes[s] = ingest_site(str(export), str(tmp), s, tasks, secret)
            done += per_site[s]
            if progress:
                progress(done, total, s)
        return outcomes
    import multiprocessing
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if ctx.get_start_method() == "forkserver":
        # workers fork from a server that has already imported the heavy modules (no fork of this process,
        # which may hold threads or locks)
        ctx.set_forkserver_preload(["datasets.corpus._preload"])
    pool = ProcessPoolExecutor(max_workers=min(workers, len(sites)), mp_context=ctx)
    try:
        futures = {pool.submit(ingest_site, str(export), str(tmp), s, tasks, secret): s for s in sites}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for fut in finished:
                res = fut.result()  # re-raises a worker's exception here
                outcomes[res.site] = res
                done += per_site[res.site]
                if progress:
                    progress(done, total, res.site)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return outcomes


def _count_rows(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return max(0, sum(1 for line in f if line.strip()) - 1)
    except OSError:
        return 0


def build_corpus(
    export_dir: str | os.PathLike,
    corpora_root: str | os.PathLike,
    *,
    secret: bytes,
    sites: Iterable[str] | str | None = None,
    tasks: Iterable[str] | str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int | None = None,
    phi_scan: bool = True,
) -> CorpusVersion:
    """De-identify a hospital export into a new immutable corpus version.

    Per site (in parallel over sites; the output does not depend on ``workers``): every DICOM file under
    ``SITE/dicom`` is de-identified (PS3.15 Annex E, :func:`datasets.deid.deidentify_dicom`) and matched to its
    case by (Patient ID, Accession Number) read *before* de-identification; for ``aki-48h`` each case becomes one
    de-identified FHIR Bundle of its admission truncated at the index time (:mod:`datasets.corpus._fhir_view`).
    Inputs are stored by content hash; reference labels go to ``labels/`` apart from ``sites/``. Whatever is
    quarantined, unmatched or refused is counted in ``ingest_report.json`` (by PHI-free reason code), never
    silently dropped.

    Layout of ``<corpora_root>/<corpus_id>/``::

        manifest.json                       canonical JSON; corpus_id = sha256 hex of its bytes
        ingest_report.json                  counts per site and task (listed in the manifest)
        sites/<SITE>/index.parquet          case_id, site, task, split, modality, input_path, age_band, sex, ...
        sites/<SITE>/inputs/<aa>/<sha256>.dcm|.json
        labels/<SITE>/labels.parquet        case_id, site, task, label, established_by
        quality.json                        written later by datasets.quality.run_quality (not in the manifest)

    The version is written under ``corpora_root/.incoming-*``, flushed to disk (``syncfs``), then renamed
    atomically. If a version
    with the same id exists (same export, secret and code), it is verified and returned unchanged.

    Parameters
    ----------
    export_dir : path-like
        Export root holding ``SITE/`` folders (``dicom/``, ``fhir/*.ndjson``, ``reference/<task>.csv``).
    corpora_root : path-like
        Directory of corpus versions (created if missing), e.g. ``$CLINVAL_HOME/corpora``.
    secret : bytes
        Pseudonymisation secret (>= 16 bytes), kept outside every corpus.
    sites : iterable of str, str or None
        Site folders to ingest (default: every site folder).
    tasks : iterable of str, str or None
        Tasks among :data:`CORPUS_TASKS` (default: both).
    progress : callable(done, total, label), optional
        Called with ``(0, total, "start")`` then after each site with the reference rows processed so far.
    workers : int, optional
        Worker processes over sites (default 2); 1 runs in this process.
    phi_scan : bool, default True
        Harvest the PHI tokens of the ingested sites' source files (:func:`datasets.phi_scan.harvest_tokens`) and
        scan every byte of the new version before it is renamed into place; any finding discards the version.

    Returns
    -------
    CorpusVersion

    Raises
    ------
    CorpusOptionError
        Unknown task, invalid or absent site, bad ``workers`` or ``progress``.
    CorpusInputError
        ``export_dir`` missing or without site folders, or a reference file without its columns.
    CorpusIntegrityError
        An existing version with the same id does not verify.
    PhiLeakError
        With ``phi_scan``, a source token was found in the new version (which is then not written).
    datasets.deid.SecretError
        ``secret`` is not bytes of at least 16 bytes.
    """
    from datasets.deid import Pseudonymizer

    Pseudonymizer(secret)  # validates the secret before any work
    secret = bytes(secret)
    export = Path(export_dir)
    if not export.is_dir():
        raise CorpusInputError(f"export directory {export} does not exist; pass the folder holding the site "
                               "folders (H01/, ...).")
    site_codes = _resolve_sites(export, sites)
    task_tuple = _resolve_tasks(tasks)
    if workers is None:
        workers = _DEFAULT_WORKERS
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
        raise CorpusOptionError(f"workers must be an integer in 1..64; got {workers!r}. Pass 1 to run in this "
                                "process.")
    if progress is not None and not callable(progress):
        raise CorpusOptionError(f"progress must be callable(done, total, label); got {type(progress).__name__}.")
    root = Path(corpora_root)
    root.mkdir(parents=True, exist_ok=True)
    per_site = {s: sum(_count_rows(export / s / "reference" / f"{t}.csv") for t in task_tuple) for s in site_codes}
    total = sum(per_site.values())
    if progress:
        progress(0, total, "start")

    tmp = root / f".incoming-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        outcomes = _run_sites(export, tmp, site_codes, task_tuple, secret, workers, progress, per_site, total)
        tokens = None
        if phi_scan:
            from datasets.phi_scan import harvest_tokens

            tokens = harvest_tokens(export, sites=site_codes)
        return _finish(tmp, root, site_codes, task_tuple, secret, outcomes, tokens)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _finish(tmp: Path, root: Path, sites: tuple[str, ...], tasks: tuple[str, ...], secret: bytes,
            outcomes: dict[str, SiteOutcome], tokens) -> CorpusVersion:
    report_sites = {s: outcomes[s].report for s in sites}
    quarantined: Counter = Counter()
    for s in sites:
        rep = report_sites[s]
        quarantined.update(rep.get("dicom", {}).get("quarantined", {}))
        quarantined.update(rep.get("fhir", {}).get("unparseable", {}))
        for t in rep["tasks"].values():
            quarantined.update(t.get("quarantined_cases_by_reason", {}))
    counts = {s: {t: outcomes[s].cases.get(t, 0) for t in tasks} for s in sites}
    report = {
        "format_version": FORMAT_VERSION,
        "sites": report_sites,
        "totals": {"cases": sum(sum(v.values()) for v in counts.values()),
                   "quarantined": dict(sorted(quarantined.items()))},
        "note": "Counts only; reasons are PHI-free codes. Quarantined and unmatched inputs are excluded from "
                "index and labels.",
    }
    write_durable(tmp / REPORT_NAME, canonical_bytes(report))
    claimed = {p for o in outcomes.values() for p, _, _ in o.files} | {REPORT_NAME}
    files = []
    for rel in hashed_files(tmp):
        if rel not in claimed:
            raise CorpusIntegrityError(f"ingest wrote an unexpected file {rel}; this is a bug in clinval, please "
                                       "report it.", path=rel, problem="extra")
        digest, size = hash_file(tmp / rel)
        files.append({"path": rel, "sha256": digest, "size": size})
    manifest = {
        "format_version": FORMAT_VERSION,
        "kind": "clinval-corpus",
        "sites": list(sites),
        "tasks": list(tasks),
        "splits": {s: ("dev" if s in DEV_SPLIT_SITES else "test") for s in sites},
        "counts": counts,
        "quarantined": dict(sorted(quarantined.items())),
        "deidentification": deid_metadata(secret),
        "hashed_set": "every file under sites/ and labels/, and ingest_report.json",
        "files": files,
    }
    raw = canonical_bytes(manifest)
    corpus_id = hashlib.sha256(raw).hexdigest()
    write_durable(tmp / MANIFEST_NAME, raw)
    if tokens is not None:
        from datasets.phi_scan import Hit, scan

        prefix = tmp.name + "/"
        hits = [Hit(token_class=h.token_class, location=h.location.removeprefix(prefix), count=h.count,
                    first_offset=h.first_offset, encoding=h.encoding) for h in scan([tmp], tokens)]
        if hits:
            raise PhiLeakError(hits)
    sync_filesystem(tmp)  # every file and directory entry of the version is on disk before the rename
    final = root / corpus_id
    if final.exists():
        existing = load_corpus(final)
        shutil.rmtree(tmp, ignore_errors=True)
        return existing
    try:
        os.rename(tmp, final)
    except OSError:
        if final.exists():  # a concurrent ingest of the same export won the race
            shutil.rmtree(tmp, ignore_errors=True)
            return load_corpus(final)
        raise
    fsync_dir(root)
    return version_from_manifest(final, json.loads(raw), raw)
