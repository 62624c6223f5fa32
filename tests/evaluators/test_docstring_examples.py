"""The Examples sections of the evaluators docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

import evaluators
from evaluators import Comparison, Estimate, InvalidParameterError

MODULES = ["_bootstrap", "_ranking", "_proportions", "_threshold", "_calibration", "_breakdown", "_rules", "_segmentation"]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(f"evaluators.{name}")
    result = doctest.testmod(module, extraglobs=vars(evaluators), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_all_names_exist_once():
    assert all(hasattr(evaluators, n) for n in evaluators.__all__)
    assert len(set(evaluators.__all__)) == len(evaluators.__all__)


def test_records_accept_numpy_scalars_and_are_frozen():
    e = Estimate(estimate=np.float32(0.5), ci_low=np.float64(0.25), ci_high=0.75, n=np.int64(10), n_pos=np.int32(4))
    assert type(e.estimate) is float and type(e.n) is int and type(e.n_pos) is int
    with pytest.raises(AttributeError):
        e.estimate = 0.6  # type: ignore[misc]
    with pytest.raises(InvalidParameterError, match="p_value"):
        Comparison(difference=0.1, ci_low=0.0, ci_high=0.2, z=1.0, p_value=1.5, method="x")
    with pytest.raises(InvalidParameterError, match="non-negative int"):
        Estimate(estimate=0.5, n=-1)
    with pytest.raises(InvalidParameterError, match="real number"):
        Estimate(estimate="0.5")  # type: ignore[arg-type]


def test_package_imports_nothing_of_the_platform():
    import subprocess
    import sys

    code = ("import sys, evaluators; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('validation', 'dashboards', 'datasets', 'sklearn', 'statsmodels', 'pandas', 'scipy')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
