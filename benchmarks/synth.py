"""Benchmark of the synthetic validation centre: cases per second for 16 hospitals x 200 cases (both tasks).

The claim (issue 4): the whole 16 x 200 export, both tasks, 256 x 256 radiographs, takes well under two minutes on
two cores. Alongside the wall time the script prints a ratio against an anchor measured in the same run: the
pydicom write floor, i.e. writing the same number of already-built 256 x 256 16-bit DICOM datasets with
``pydicom.dcmwrite`` and nothing else (no images drawn, no FHIR). Ratios travel between machines; absolute times do
not, but the two-minute budget is absolute, so both are printed.

Usage::

    python benchmarks/synth.py [--cases 200] [--sites 16] [--workers N] [--image-size 256] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from datasets.sites import HOSPITAL_CODES  # noqa: E402
from datasets.synthetic import generate_export  # noqa: E402

BUDGET_S = 120.0


def pydicom_write_floor(n: int, size: int, out: Path) -> float:
    """Seconds to write ``n`` minimal DICOM files with pydicom from datasets built beforehand (one core)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    pixels = np.random.default_rng(0).integers(0, 4096, size=(size, size), dtype=np.uint16).tobytes()
    datasets = []
    for i in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(i)])
        ds.PatientName, ds.PatientID = "Anchor^Patient", f"{i:08d}"
        ds.Rows = ds.Columns = size
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.PixelData = pixels
        datasets.append(ds)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for i, ds in enumerate(datasets):
        ds.save_as(out / f"{i:06d}.dcm", enforce_file_format=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200, help="cases per task and site")
    parser.add_argument("--sites", type=int, default=16, help="number of hospitals (H01..)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: CPUs)")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)

    sites = list(HOSPITAL_CODES[: args.sites])
    workers = args.workers or max(1, min(os.cpu_count() or 1, len(sites)))
    with tempfile.TemporaryDirectory(prefix="clinval-synth-bench-") as tmp:
        t0 = time.perf_counter()
        summary = generate_export(Path(tmp) / "export", sites=sites, cases=args.cases, seed=0,
                                  image_size=args.image_size, workers=workers)
        wall = time.perf_counter() - t0
        n_images = summary.n_cases(task="cxr-pneumonia")
        anchor = pydicom_write_floor(n_images, args.image_size, Path(tmp) / "anchor")
    cases = summary.n_cases()
    result = {
        "sites": len(sites),
        "cases_per_task_and_site": args.cases,
        "cases_total": cases,
        "radiographs": n_images,
        "files": summary.files_written,
        "megabytes": round(summary.bytes_written / 1e6, 1),
        "workers": workers,
        "cpus": os.cpu_count(),
        "wall_s": round(wall, 2),
        "cases_per_s": round(cases / wall, 1),
        "anchor_pydicom_write_floor_s": round(anchor, 3),
        "ratio_to_pydicom_write_floor": round(wall / anchor, 2),
        "budget_s": BUDGET_S,
        "share_of_budget": round(wall / BUDGET_S, 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"synthetic export: {len(sites)} sites x {args.cases} cases x 2 tasks = {cases} cases "
              f"({n_images} radiographs {args.image_size}px, {summary.files_written} files, "
              f"{result['megabytes']} MB) with {workers} worker(s) on {os.cpu_count()} CPU(s)")
        print(f"  wall time           {wall:8.2f} s   ({result['share_of_budget']:.0%} of the {BUDGET_S:.0f} s budget)")
        print(f"  throughput          {result['cases_per_s']:8.1f} cases/s")
        print(f"  anchor: pydicom write floor for {n_images} files on one core {anchor:.2f} s; "
              f"export / anchor = {result['ratio_to_pydicom_write_floor']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
