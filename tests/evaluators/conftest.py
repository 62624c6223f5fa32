"""Fixtures shared by the evaluators tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"


@pytest.fixture(scope="session")
def asah():
    """pROC's aSAH data (113 patients); outcome 'Poor' is the positive class.

    Source: R package pROC, data/aSAH (Turck et al. 2010), converted to CSV in ../shared/reference/proc-asah.
    """
    import pandas as pd

    path = REFERENCE / "proc-asah" / "aSAH.csv"
    if not path.is_file():
        pytest.skip(f"reference data absent: {path} (see ../shared/reference/README.md)")
    frame = pd.read_csv(path)
    frame["poor"] = (frame["outcome"] == "Poor").to_numpy()
    return frame


@pytest.fixture()
def rng():
    return np.random.default_rng(20240601)
