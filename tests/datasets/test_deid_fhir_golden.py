"""The FHIR de-identification output is frozen: for a fixed key, every input gives the bytes it gave before.

The digests in ``data/fhir_deid_golden.json`` were written by the implementation before the type-directed walker
and the fast strict parser (see ``_fhir_golden.py``); any change to what is removed, replaced, shifted, kept (and
in which key order), quarantined or reported per patient changes a digest.
"""

from __future__ import annotations

import json

import pytest

from tests.datasets._fhir_golden import (
    GOLDEN,
    SYNTH_CASES,
    SYNTH_SEED,
    SYNTHEA,
    result_digest,
    synthea_cases,
    synthetic_cases,
)
from tests.datasets._synth_fixtures import build

FROZEN: dict[str, dict[str, str]] = json.loads(GOLDEN.read_text("utf-8"))


def _check(cases) -> int:
    compared = 0
    mismatched: list[str] = []
    for name, sha_in, run in cases:
        frozen = FROZEN.get(name)
        if frozen is None or frozen["input"] != sha_in:
            continue  # input not frozen (or the generator changed): nothing to compare against
        compared += 1
        if result_digest(run()) != frozen["output"]:
            mismatched.append(name)
    assert not mismatched, f"output changed for {len(mismatched)} input(s): {mismatched[:5]}"
    return compared


def test_synthea_outputs_unchanged():
    if not SYNTHEA.exists():
        pytest.skip(f"Synthea reference bundles absent at {SYNTHEA}")
    expected = sum(1 for k in FROZEN if k.startswith("synthea"))
    assert _check(synthea_cases()) == expected


def test_synthetic_export_outputs_unchanged(tmp_path_factory):
    export, _ = build(tmp_path_factory, "golden-fhir", sites="all", cases=SYNTH_CASES, seed=SYNTH_SEED,
                      image_size=64)
    expected = sum(1 for k in FROZEN if k.startswith("synthetic"))
    compared = _check(synthetic_cases(export))
    if compared == 0:
        pytest.skip("the synthetic generator no longer writes the frozen inputs; regenerate the golden file")
    assert compared == expected


def test_digest_sees_key_order_and_content():
    from datasets.deid import FhirResult

    a = FhirResult(resources=({"resourceType": "Basic", "id": "x"},))
    b = FhirResult(resources=({"id": "x", "resourceType": "Basic"},))
    c = FhirResult(resources=({"resourceType": "Basic", "id": "y"},))
    assert len({result_digest(a), result_digest(b), result_digest(c)}) == 3
