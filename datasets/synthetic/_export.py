"""Write the synthetic exports of several sites into one directory, in parallel and deterministically."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from datasets.exceptions import ExportNotFoundError, OutputNotEmptyError, SynthesisOptionError, UnknownSiteError
from datasets.sites import SITE_CODES, get_site
from datasets.synthetic._site import TASKS, SiteResult, generate_site

PHI_MANIFEST = "_phi_tokens.json"
"""File (outside the site folders) listing the PHI tokens the generator wrote, by class."""
EXPORT_MANIFEST = "_export.json"
"""File (outside the site folders) recording the options and counts of the export; no PHI."""
FORMAT_VERSION = 1
_MAX_CASES = 100_000


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteTaskCount:
    """Cases of one task at one site and how many carry a positive reference label."""

    site: str
    task: str
    cases: int
    positives: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportSummary:
    """What :func:`generate_export` wrote.

    Attributes
    ----------
    out_dir : str
        The export directory.
    seed, image_size : int
        Options the export was generated with.
    sites, tasks : tuple of str
        Sites (``DEV`` first, then ``H01`` ..) and tasks written.
    counts : tuple of SiteTaskCount
        One record per site and task, in site then task order.
    files_written, bytes_written : int
        Totals over the site folders (the two manifests excluded).
    """

    out_dir: str
    seed: int
    image_size: int
    sites: tuple[str, ...]
    tasks: tuple[str, ...]
    counts: tuple[SiteTaskCount, ...]
    files_written: int
    bytes_written: int

    def n_cases(self, *, site: str | None = None, task: str | None = None) -> int:
        """Number of cases, optionally restricted to one site and/or one task."""
        return sum(c.cases for c in self.counts
                   if (site is None or c.site == site) and (task is None or c.task == task))

    def to_dict(self) -> dict:
        """JSON-ready form without the output directory (so two exports of the same seed are identical)."""
        return {
            "format_version": FORMAT_VERSION,
            "generator": "datasets.synthetic",
            "seed": self.seed,
            "image_size": self.image_size,
            "sites": list(self.sites),
            "tasks": list(self.tasks),
            "counts": [{"site": c.site, "task": c.task, "cases": c.cases, "positives": c.positives}
                       for c in self.counts],
            "files_written": self.files_written,
            "bytes_written": self.bytes_written,
        }


def _int_option(name: str, value, low: int, high: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SynthesisOptionError(f"{name} must be an integer; got {value!r} of type {type(value).__name__}. {hint}")
    if not low <= value <= high:
        raise SynthesisOptionError(f"{name} must lie in {low}..{high}; got {value}. {hint}")
    return value


def _resolve_sites(sites) -> tuple[str, ...]:
    if sites is None or (isinstance(sites, str) and sites.strip().lower() == "all"):
        return SITE_CODES
    if isinstance(sites, str):
        sites = [s for s in sites.split(",") if s.strip()]
    chosen = []
    for code in sites:
        try:
            chosen.append(get_site(code).code)
        except UnknownSiteError:
            raise UnknownSiteError(
                f"unknown site code {code!r} in sites; use codes from {', '.join(SITE_CODES)} or 'all'."
            ) from None
    if not chosen:
        raise SynthesisOptionError("sites is empty; pass None or 'all' for every site, or a list such as ['H01'].")
    wanted = set(chosen)
    return tuple(code for code in SITE_CODES if code in wanted)


def _resolve_tasks(tasks) -> tuple[str, ...]:
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    tasks = list(tasks)
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise SynthesisOptionError(f"unknown task(s) {unknown}; choose from {list(TASKS)}.")
    if not tasks:
        raise SynthesisOptionError(f"tasks is empty; choose one or more of {list(TASKS)}.")
    return tuple(t for t in TASKS if t in tasks)


def _prepare_out_dir(out: Path, site_codes: tuple[str, ...], force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputNotEmptyError(f"output path {out} exists and is not a directory; choose another --out.")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise OutputNotEmptyError(
                f"output directory {out} is not empty; choose an empty or new directory, or pass force=True "
                "(--force) to replace the site folders and manifests of a previous export there."
            )
        for code in site_codes:
            target = out / code
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.is_dir():
                shutil.rmtree(target)
        for name in (PHI_MANIFEST, EXPORT_MANIFEST):
            if (out / name).exists() or (out / name).is_symlink():
                (out / name).unlink()
    out.mkdir(parents=True, exist_ok=True)


def generate_export(
    out_dir: str | os.PathLike,
    *,
    sites: Iterable[str] | str | None = None,
    cases: int = 200,
    tasks: Iterable[str] | str = TASKS,
    seed: int = 0,
    image_size: int = 256,
    progress: Callable[[int, int, str], None] | None = None,
    force: bool = False,
    workers: int | None = None,
) -> ExportSummary:
    """Write the identified exports of the synthetic validation centre, one folder per site.

    Layout per site ``SITE``: ``SITE/dicom/STnnnnnn/SE000001/IM000001.dcm`` (DICOM Part 10 chest radiographs),
    ``SITE/fhir/<ResourceType>.ndjson`` (FHIR R4 Bulk Data NDJSON) and ``SITE/reference/<task>.csv`` (reference
    standard keyed by MRN, accession number and visit number). Beside the site folders: ``_export.json`` (options
    and counts) and ``_phi_tokens.json`` (the PHI written, by class; see :func:`phi_tokens`).

    Parameters
    ----------
    out_dir : path-like
        Directory to write into; created if missing.
    sites : iterable of str, str or None
        Site codes (``"H01"``, ``"DEV"``, ...), a comma-separated string, ``"all"`` or None for every site.
    cases : int
        Cases per task and site, 1 .. 100000.
    tasks : iterable of str or str
        Any of ``"cxr-pneumonia"`` and ``"aki-48h"``.
    seed : int
        Non-negative seed; the same seed gives byte-identical files.
    image_size : int
        Rows and columns of each radiograph; a multiple of 16 in 64 .. 2048.
    progress : callable(done, total, label), optional
        Called with cases done so far, the total and the site just finished (``"start"`` first).
    force : bool
        Allow a non-empty ``out_dir``: the folders of the requested sites and the manifests are replaced; other
        files are left alone.
    workers : int, optional
        Worker processes (default: one per CPU, at most one per site); 1 generates in this process. The output does
        not depend on it.

    Returns
    -------
    ExportSummary

    Raises
    ------
    OutputNotEmptyError
        ``out_dir`` holds files and ``force`` is False, or is not a directory.
    UnknownSiteError
        A site code is not registered.
    SynthesisOptionError
        ``cases``, ``tasks``, ``seed``, ``image_size`` or ``workers`` is invalid.
    """
    codes = _resolve_sites(sites)
    task_tuple = _resolve_tasks(tasks)
    cases = _int_option("cases", cases, 1, _MAX_CASES, "Pass the number of cases per task and site, e.g. 200.")
    seed = _int_option("seed", seed, 0, 2**63 - 1, "Pass a non-negative integer seed.")
    image_size = _int_option("image_size", image_size, 64, 2048, "Use e.g. 256.")
    if image_size % 16:
        raise SynthesisOptionError(f"image_size must be a multiple of 16; got {image_size}. Use e.g. 256.")
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, len(codes)))
    workers = _int_option("workers", workers, 1, 256, "Pass 1 to generate in this process.")
    if progress is not None and not callable(progress):
        raise SynthesisOptionError(f"progress must be callable(done, total, label); got {type(progress).__name__}.")

    out = Path(out_dir)
    _prepare_out_dir(out, codes, force)
    per_site = cases * len(task_tuple)
    total = per_site * len(codes)
    if progress:
        progress(0, total, "start")
    results: dict[str, SiteResult] = {}
    args = [(str(out), code, cases, task_tuple, seed, image_size) for code in codes]
    if workers == 1:
        for a in args:
            results[a[1]] = generate_site(*a)
            if progress:
                progress(per_site * len(results), total, a[1])
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(generate_site, *a): a[1] for a in args}
            for fut in as_completed(futures):
                res = fut.result()
                results[res.code] = res
                if progress:
                    progress(per_site * len(results), total, res.code)

    ordered = [results[c] for c in codes]
    summary = ExportSummary(
        out_dir=str(out),
        seed=seed,
        image_size=image_size,
        sites=codes,
        tasks=task_tuple,
        counts=tuple(SiteTaskCount(site=r.code, task=t, cases=n, positives=p) for r in ordered for t, n, p in r.counts),
        files_written=sum(r.files for r in ordered),
        bytes_written=sum(r.bytes for r in ordered),
    )
    merged: dict[str, set[str]] = {}
    for r in ordered:
        for kind, values in r.phi.items():
            merged.setdefault(kind, set()).update(values)
    phi = {
        "format_version": FORMAT_VERSION,
        "note": "PHI written by datasets.synthetic; synthetic but treat as identified data.",
        "tokens": {k: sorted(v) for k, v in sorted(merged.items())},
        "burned_in_files": [f for r in ordered for f in r.burned_in_files],
    }
    _write_json(out / PHI_MANIFEST, phi)
    _write_json(out / EXPORT_MANIFEST, summary.to_dict())
    return summary


def _write_json(path: Path, data: Mapping) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def phi_tokens(export: str | os.PathLike | ExportSummary) -> dict[str, tuple[str, ...]]:
    """The PHI tokens the generator wrote into an export, by class.

    Classes include ``patient_name``, ``contact_name``, ``mrn``, ``resident_id``, ``passport_number``, ``phone``,
    ``address``, ``birth_date``, ``accession_number``, ``visit_number``, ``uid``, ``physician_name``,
    ``institution_name``, ``institution_address``, ``station_name``, ``device_serial`` and ``free_text``. A
    de-identified copy of the export should contain none of them.

    Parameters
    ----------
    export : path-like or ExportSummary
        The export directory (or the summary :func:`generate_export` returned).

    Returns
    -------
    dict of str to tuple of str

    Raises
    ------
    ExportNotFoundError
        If the directory holds no ``_phi_tokens.json``.
    """
    root = Path(export.out_dir if isinstance(export, ExportSummary) else export)
    path = root / PHI_MANIFEST
    if not path.is_file():
        raise ExportNotFoundError(
            f"{root} holds no {PHI_MANIFEST}; pass the directory written by datasets.synthetic.generate_export."
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: tuple(v) for k, v in data["tokens"].items()}


def burned_in_files(export: str | os.PathLike | ExportSummary) -> tuple[str, ...]:
    """Paths (relative to the export directory) of radiographs with patient text burned into the pixels."""
    root = Path(export.out_dir if isinstance(export, ExportSummary) else export)
    path = root / PHI_MANIFEST
    if not path.is_file():
        raise ExportNotFoundError(
            f"{root} holds no {PHI_MANIFEST}; pass the directory written by datasets.synthetic.generate_export."
        )
    return tuple(json.loads(path.read_text(encoding="utf-8"))["burned_in_files"])
