"""Benchmark of corpus ingest: de-identification into a corpus version, quality suites and the PHI leak scan.

A synthetic export of N sites x M cases per task is generated first (not timed). Then, in the same run:

* anchor: pydicom's bare read + write of every DICOM file of the export (``dcmread`` then ``save_as`` to memory),
  plus ``json.loads`` of every FHIR NDJSON line (the floor of any ingest that parses the inputs);
* ingest (after one untimed warm-up build): :func:`datasets.corpus.build_corpus` with 1 and with 2 workers without its PHI gate, and with 2 workers
  and the gate (the default);
* quality: :func:`datasets.quality.run_quality` (first call includes importing great-expectations, reported apart);
* PHI scan: :func:`datasets.phi_scan.harvest_tokens` over the export and :func:`datasets.phi_scan.scan` over the
  corpus version, with its throughput in MB/s.

Times are printed as ratios to the anchor; absolute times and cases/s are printed too but only ratios travel.

Usage::

    python benchmarks/ingest.py [--sites DEV,H01,H04,H09,H15] [--cases 50] [--image-size 256] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def _anchor(export: Path) -> float:
    import pydicom

    t0 = time.perf_counter()
    for f in sorted(export.rglob("*.dcm")):
        ds = pydicom.dcmread(f)
        ds.save_as(io.BytesIO())
    for f in sorted(export.rglob("*.ndjson")):
        for line in f.read_bytes().splitlines():
            json.loads(line)
    return time.perf_counter() - t0


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", default="DEV,H01,H04,H09,H15")
    ap.add_argument("--cases", type=int, default=50)
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from datasets.corpus import build_corpus
    from datasets.phi_scan import harvest_tokens, scan
    from datasets.synthetic import generate_export

    sites = [s.strip() for s in args.sites.split(",") if s.strip()]
    secret = b"benchmark-secret-0123456789abcdef"
    with tempfile.TemporaryDirectory(prefix="clinval-bench-ingest-") as tmp:
        export = Path(tmp) / "export"
        generate_export(export, sites=sites, cases=args.cases, image_size=args.image_size, seed=3)
        n_files = sum(1 for _ in export.rglob("*.dcm"))
        anchor = min(_anchor(export) for _ in range(2))

        # warm-up (not timed): first-call imports and the start of the worker pool's forkserver
        build_corpus(export, Path(tmp) / "warm", secret=secret, workers=2, phi_scan=False)
        t_ingest1, v1 = _timed(lambda: build_corpus(export, Path(tmp) / "c1", secret=secret, workers=1,
                                                    phi_scan=False))
        t_ingest2, v2 = _timed(lambda: build_corpus(export, Path(tmp) / "c2", secret=secret, workers=2,
                                                    phi_scan=False))
        t_gated, v3 = _timed(lambda: build_corpus(export, Path(tmp) / "c3", secret=secret, workers=2))
        assert v1.corpus_id == v2.corpus_id == v3.corpus_id, "ingest output must not depend on workers"

        t_gx_import, _ = _timed(lambda: __import__("great_expectations"))
        from datasets.quality import run_quality

        t_quality, report = _timed(lambda: run_quality(v2.path))
        t_quality2, _ = _timed(lambda: run_quality(v2.path, verify=False))

        t_harvest, tokens = _timed(lambda: harvest_tokens(export))
        corpus_bytes = sum(p.stat().st_size for p in Path(v2.path).rglob("*") if p.is_file())
        t_scan, hits = _timed(lambda: scan([v2.path], tokens))
        export_bytes = sum(p.stat().st_size for p in export.rglob("*") if p.is_file())
        t_scan_export, export_hits = _timed(lambda: scan([export], tokens))

    cases_total = args.cases * 2 * len(sites)
    res = {
        "sites": len(sites), "cases_per_task": args.cases, "image_size": args.image_size,
        "dicom_files": n_files, "cases_in_corpus": v2.n_cases(), "reference_cases": cases_total,
        "anchor_s": round(anchor, 3),
        "ingest_1_worker_s": round(t_ingest1, 3), "ingest_2_workers_s": round(t_ingest2, 3),
        "ingest_1_worker_vs_anchor": round(t_ingest1 / anchor, 2),
        "ingest_2_workers_vs_anchor": round(t_ingest2 / anchor, 2),
        "cases_per_s_2_workers": round(cases_total / t_ingest2, 1),
        "ingest_2_workers_with_phi_gate_s": round(t_gated, 3),
        "ingest_with_phi_gate_vs_anchor": round(t_gated / anchor, 2),
        "gx_import_s": round(t_gx_import, 2),
        "quality_s": round(t_quality, 3), "quality_repeat_s": round(t_quality2, 3),
        "quality_vs_anchor": round(t_quality / anchor, 2), "quality_usable": report.usable,
        "harvest_s": round(t_harvest, 3), "harvest_vs_anchor": round(t_harvest / anchor, 2),
        "tokens": len(tokens),
        "scan_corpus_s": round(t_scan, 3), "scan_vs_anchor": round(t_scan / anchor, 2),
        "scan_MB_per_s": round(corpus_bytes / 2**20 / t_scan, 1), "scan_hits_corpus": len(hits),
        "scan_export_MB_per_s": round(export_bytes / 2**20 / t_scan_export, 1),
        "scan_hits_export_locations": len({h.location for h in export_hits}),
    }
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        print(f"{len(sites)} sites x {args.cases} cases/task, {n_files} radiographs {args.image_size}px; "
              f"{v2.n_cases()} cases in the corpus")
        print(f"anchor (pydicom read+write, json.loads of NDJSON): {anchor:.2f} s")
        print(f"ingest 1 worker : {t_ingest1:.2f} s = {t_ingest1 / anchor:.2f} x anchor")
        print(f"ingest 2 workers: {t_ingest2:.2f} s = {t_ingest2 / anchor:.2f} x anchor, "
              f"{cases_total / t_ingest2:.1f} cases/s")
        print(f"ingest 2 workers + PHI gate (harvest + scan before rename, the default): {t_gated:.2f} s = "
              f"{t_gated / anchor:.2f} x anchor, {cases_total / t_gated:.1f} cases/s")
        print(f"quality suites  : {t_quality:.2f} s = {t_quality / anchor:.2f} x anchor (GX import {t_gx_import:.1f} s "
              f"apart; repeat without verification {t_quality2:.2f} s); usable={report.usable}")
        print(f"PHI harvest     : {t_harvest:.2f} s = {t_harvest / anchor:.2f} x anchor ({len(tokens)} tokens)")
        print(f"PHI scan corpus : {t_scan:.2f} s = {t_scan / anchor:.2f} x anchor, "
              f"{corpus_bytes / 2**20 / t_scan:.0f} MB/s, hits {len(hits)}")
        print(f"PHI scan export : {export_bytes / 2**20 / t_scan_export:.0f} MB/s, "
              f"{len({h.location for h in export_hits})} files with PHI (expected: all of them)")
    return 0 if not hits else 1


if __name__ == "__main__":
    raise SystemExit(main())
