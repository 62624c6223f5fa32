"""Site groups of the example-model tests and small helpers (shared by conftest.py and the tests)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
KIT_PATH = ROOT / "examples" / "vendors" / "vendor_kit.py"
SEED = int(os.environ.get("CLINVAL_EXAMPLES_TEST_SEED", "7"))  # fixed; the variable exists to re-check margins
CASES = 120
MONOCHROME1_SITES = ("H04", "H06", "H13")
MONOCHROME2_SITES = ("H01", "H02", "H05")
UMOL_SITES = ("H02", "H04", "H05", "H13")
MGDL_SITES = ("H01", "H06")
SITES = ("H01", "H02", "H04", "H05", "H06", "H13")


def load_kit():
    spec = importlib.util.spec_from_file_location("clinval_test_vendor_kit", KIT_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pooled(scores: dict, name: str, sites) -> pd.DataFrame:
    return pd.concat([scores[name, site] for site in sites], ignore_index=True)
