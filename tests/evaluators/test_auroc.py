"""AUROC point estimates: a hand-worked case, pair counting, sklearn, pROC's published aSAH values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from evaluators_reference import auroc_bruteforce

from evaluators import InvalidInputError, auroc, auroc_ci


def test_hand_worked_case():
    # pairs (pos, neg): (0.35 > 0.1) (0.35 < 0.4) (0.8 > 0.1) (0.8 > 0.4) -> 3 of 4
    assert auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75


def test_ties_count_half():
    assert auroc([0, 1], [0.5, 0.5]) == 0.5
    assert auroc([0, 0, 1], [0.2, 0.5, 0.5]) == 0.75


def test_never_flipped():
    assert auroc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_matches_pair_counting_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(60) < 0.4
    s = rng.integers(0, 6, size=60).astype(float)  # heavy ties
    assert auroc(y, s) == pytest.approx(auroc_bruteforce(y, s), abs=1e-12)


def test_matches_sklearn_with_weights(rng):
    from sklearn.metrics import roc_auc_score

    y = rng.random(500) < 0.3
    s = np.round(rng.normal(size=500) + y, 1)
    w = rng.integers(0, 4, size=500).astype(float)
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auroc(y, s, sample_weight=w) == pytest.approx(roc_auc_score(y, s, sample_weight=w), abs=1e-12)


def test_integer_weights_equal_repetition(rng):
    y = rng.random(40) < 0.5
    s = rng.integers(0, 5, size=40).astype(float)
    w = rng.integers(0, 3, size=40)
    rep = np.repeat(np.arange(40), w)
    assert auroc(y, s, sample_weight=w) == pytest.approx(auroc_bruteforce(y[rep], s[rep]), abs=1e-12)


def test_proc_asah_published_aucs(asah):
    # pROC test suite values (../shared/reference/README.md)
    y = asah["poor"]
    assert auroc(y, asah["s100b"]) == pytest.approx(0.731368563685637, abs=1e-12)
    assert auroc(y, asah["wfns"]) == pytest.approx(0.8237, abs=5e-5)
    assert auroc(y, asah["ndka"]) == pytest.approx(0.611957994579946, abs=1e-12)


def test_pos_label_on_string_labels(asah):
    assert auroc(asah["outcome"], asah["ndka"], pos_label="Poor") == pytest.approx(0.611957994579946, abs=1e-12)


def test_one_class_is_nan_with_note():
    assert math.isnan(auroc([1, 1, 1], [0.1, 0.2, 0.3]))
    e = auroc_ci([0, 0], [0.1, 0.2])
    assert math.isnan(e.estimate) and "both classes" in e.note and e.n_pos == 0 and e.n_neg == 2


@pytest.mark.parametrize(
    ("y", "s", "match"),
    [
        ([0, 1, 2], [0.1, 0.2, 0.3], "binary"),
        ([0, 1], [0.1], "one score per case"),
        ([0, 1], [0.1, float("nan")], "NaN"),
        ([[0, 1]], [[0.1, 0.2]], "1-d"),
        (["a", "b"], [0.1, 0.2], "pos_label"),
    ],
)
def test_bad_input_messages(y, s, match):
    with pytest.raises(InvalidInputError, match=match):
        auroc(y, s)
