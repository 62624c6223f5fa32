"""Site groups of the example-model tests and small helpers (shared by conftest.py and the tests)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
KIT_PATH = ROOT / "examples" / "vendors" / "vendor_kit.py"
SEED = int(os.environ.get("CLINVAL_EXAMPLES_TEST_SEED", "2026"))  # the demo's seed: these are its numbers
CASES = 40  # per task and hospital, as the demo
DEV_CASES = 200  # the public DEV split the vendor fits on, as the demo
SITES = tuple(f"H{i:02d}" for i in range(1, 17))
MONOCHROME1_SITES = ("H04", "H06", "H13")
MONOCHROME2_SITES = tuple(s for s in SITES if s not in MONOCHROME1_SITES)
UMOL_SITES = ("H02", "H04", "H05", "H07", "H09", "H11", "H13", "H15")
MGDL_SITES = tuple(s for s in SITES if s not in UMOL_SITES)


def load_kit():
    spec = importlib.util.spec_from_file_location("clinval_test_vendor_kit", KIT_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pooled(scores: dict, name: str, sites) -> pd.DataFrame:
    return pd.concat([scores[name, site] for site in sites], ignore_index=True)
