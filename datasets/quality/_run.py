"""Run the quality suites over a corpus version with great-expectations and store ``quality.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from datasets.quality._frames import LAB_UNITS, LOINC, load_frames
from datasets.quality._report import MAX_IDS, ExpectationResult, QualityReport, SuiteResult
from datasets.quality._suites import SUITE_ORDER, Allowed, pandas_checks, specs
from datasets.quality.errors import QualityError

__all__ = ["run_quality", "read_quality"]

_QUALITY_NAME = "quality.json"


def _allowed(manifest: dict) -> Allowed:
    from datasets.deid import DeidOptions
    from datasets.deid.dates import age_band

    bands = DeidOptions().age_bands
    labels = sorted({age_band(b, bands) for b in bands} | {"unknown"})
    splits = manifest.get("splits", {})
    return Allowed(sites=tuple(manifest.get("sites", ())), tasks=tuple(manifest.get("tasks", ())),
                   site_split=tuple(sorted(splits.items())), age_bands=tuple(labels))


def _gx_context(gx_root):
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if gx_root is None:
        ctx = gx.get_context(mode="ephemeral")
    else:
        Path(gx_root).mkdir(parents=True, exist_ok=True)
        ctx = gx.get_context(mode="file", project_root_dir=os.fspath(gx_root))
    try:
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    except Exception:  # noqa: BLE001 - cosmetic only
        pass
    return gx, ctx


def _ids(result: dict, id_column: str) -> tuple[list[str], bool]:
    rows = result.get("unexpected_index_list") or []
    ids = sorted({str(r.get(id_column)) for r in rows if isinstance(r, dict) and r.get(id_column) is not None})
    return ids[:MAX_IDS], len(ids) > MAX_IDS


def _frame_for(frames, name: str):
    if name == "labs_loinc":
        labs = frames.labs
        return labs[(labs["system"] == LOINC) & labs["code"].isin(list(LAB_UNITS))].reset_index(drop=True)
    return getattr(frames, name)


def run_quality(corpus_path: str | os.PathLike, *, gx_root: str | os.PathLike | None = None,
                verify: bool = True) -> QualityReport:
    """Run the index, labels, DICOM metadata, clinical and privacy suites; write ``quality.json``.

    One great-expectations context (ephemeral, or a file context under ``gx_root`` such as
    ``$CLINVAL_HOME/gx`` where the suites and validation definitions are kept) serves every suite. Results use
    result format COMPLETE with unexpected rows identified by ``case_id``; only those ids are kept, never values.

    Parameters
    ----------
    corpus_path : path-like
        A corpus version directory.
    gx_root : path-like, optional
        Project root of a GX file context; default an ephemeral context.
    verify : bool, default True
        Verify the version against its manifest first (:func:`datasets.corpus.load_corpus`).

    Returns
    -------
    QualityReport
        Also written to ``<corpus_path>/quality.json`` (outside the hashed manifest).

    Raises
    ------
    datasets.corpus.CorpusIntegrityError
        With ``verify``, if the version does not match its manifest.
    QualityError
        If an index or labels table cannot be read.
    """
    from datasets.corpus import load_corpus

    root = Path(corpus_path)
    if verify:
        load_corpus(root)
    try:
        manifest = json.loads((root / "manifest.json").read_bytes())
    except (OSError, ValueError):
        raise QualityError(f"{root} has no readable manifest.json; pass a corpus version directory.") from None
    corpus_id = root.name
    allowed = _allowed(manifest)
    frames = load_frames(root, allowed.sites)

    gx, ctx = _gx_context(gx_root)
    import great_expectations.expectations as gxe

    tag = corpus_id[:16]
    source = ctx.data_sources.add_or_update_pandas(f"clinval-{tag}")
    all_specs = specs()
    by_frame: dict[str, list] = {}
    for s in all_specs:
        by_frame.setdefault(s.frame, []).append(s)
    results: dict[str, ExpectationResult] = {}
    for frame_name, frame_specs in by_frame.items():
        df = _frame_for(frames, frame_name)
        if len(df) == 0:
            for s in frame_specs:
                results[s.id] = ExpectationResult(id=s.id, suite=s.suite, expectation_type="(no rows)",
                                                  description=s.description, critical=s.critical, success=True,
                                                  id_column=s.id_column)
            continue
        suite = gx.ExpectationSuite(name=f"clinval.{frame_name}")
        for s in frame_specs:
            e = s.build(gxe, allowed)
            e.meta = {"clinval_id": s.id, "critical": s.critical}
            suite.add_expectation(e)
        suite = ctx.suites.add_or_update(suite)
        asset = source.add_dataframe_asset(frame_name)
        batch = asset.add_batch_definition_whole_dataframe("whole")
        vd = ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=f"clinval.{frame_name}.{tag}", data=batch, suite=suite))
        id_column = frame_specs[0].id_column
        run = vd.run(batch_parameters={"dataframe": df},
                     result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [id_column]})
        spec_by_id = {s.id: s for s in frame_specs}
        for er in run.results:
            cfg = er.expectation_config
            sid = (cfg.meta or {}).get("clinval_id")
            s = spec_by_id.get(sid)
            if s is None:
                continue
            res = er.result or {}
            exc = (er.exception_info or {})
            raised = exc.get("raised_exception") if isinstance(exc, dict) else False
            ids, truncated = _ids(res, s.id_column)
            results[s.id] = ExpectationResult(
                id=s.id, suite=s.suite, expectation_type=str(cfg.type), description=s.description,
                critical=s.critical, success=bool(er.success) and not raised,
                element_count=int(res.get("element_count") or 0),
                unexpected_count=int(res.get("unexpected_count") or 0), id_column=s.id_column,
                unexpected_ids=tuple(ids), ids_truncated=truncated,
                error=_error_text(exc) if raised else "")
        for s in frame_specs:  # an expectation GX did not report is a failure, never a silent pass
            results.setdefault(s.id, ExpectationResult(
                id=s.id, suite=s.suite, expectation_type="(not evaluated)", description=s.description,
                critical=s.critical, success=False, id_column=s.id_column, error="no result from great_expectations"))
    for c in pandas_checks():
        ok, n, bad = c.run(frames)
        results[c.id] = ExpectationResult(id=c.id, suite=c.suite, expectation_type=f"clinval:{c.id.split('.')[1]}",
                                          description=c.description, critical=c.critical, success=ok,
                                          element_count=n, unexpected_count=len(bad),
                                          unexpected_ids=tuple(bad[:MAX_IDS]), ids_truncated=len(bad) > MAX_IDS)
    order = [s.id for s in all_specs] + [c.id for c in pandas_checks()]
    suites = tuple(SuiteResult(name=name, expectations=tuple(results[i] for i in order if results[i].suite == name))
                   for name in SUITE_ORDER)
    report = QualityReport(corpus_id=corpus_id, suites=suites, engine=f"great_expectations {gx.__version__}")
    report.write(root / _QUALITY_NAME)
    return report


def _error_text(exc: dict) -> str:
    msg = str(exc.get("exception_message") or "")
    # GX messages name missing columns; keep only the first line and never a value
    first = msg.splitlines()[0] if msg else ""
    return first[:200] if "column" in first.lower() else "evaluation failed"


def read_quality(corpus_path: str | os.PathLike) -> QualityReport:
    """Read ``quality.json`` of a corpus version (see :meth:`QualityReport.read`)."""
    return QualityReport.read(Path(corpus_path) / _QUALITY_NAME)
