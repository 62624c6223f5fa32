"""Units of the corpus build: what counts as known at the index time, and reading reference files."""

from __future__ import annotations

import datetime as dt

import pytest

from datasets.corpus import CorpusInputError
from datasets.corpus._fhir_view import AdmissionIndex, case_bundle, known_at
from datasets.corpus._reference import read_reference

CST = dt.timezone(dt.timedelta(hours=8))
INDEX = dt.datetime(2024, 5, 20, 15, 0, 0, tzinfo=CST)


@pytest.mark.parametrize("resource, known", [
    ({"effectiveDateTime": "2024-05-20T14:59:59+08:00"}, True),
    ({"effectiveDateTime": "2024-05-20T15:00:00+08:00"}, True),
    ({"effectiveDateTime": "2024-05-20T15:00:01+08:00"}, False),
    ({"effectiveDateTime": "2024-05-20T07:00:01Z"}, False),  # 15:00:01 in UTC+8
    ({"effectiveDateTime": "2024-05-20T06:59:59Z"}, True),
    ({"effectiveDateTime": "2024-05-20T14:00:00+08:00", "issued": "2024-05-20T15:30:00+08:00"}, False),
    ({"recordedDate": "2024-05-20"}, False),  # a bare date may mean any time of that day
    ({"recordedDate": "2024-05-19"}, True),
    ({"recordedDate": "2024-05"}, False),
    ({"recordedDate": "2024-04"}, True),
    ({"note": [{"time": "2024-06-01T00:00:00+08:00", "text": "later"}]}, False),  # nested dates count
    ({"effectiveDateTime": "2024-13-45T00:00:00+08:00"}, False),  # unreadable: dropped
    ({"birthDate": "2030-01-01", "valueQuantity": {"value": 2024}}, True),  # birthDate and numbers ignored
])
def test_known_at(resource, known):
    assert known_at(resource, INDEX) is known


def _resources():
    pat = {"resourceType": "Patient", "id": "p1", "deceasedDateTime": "2024-06-01",
           "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "MRN1"}]}
    enc = {"resourceType": "Encounter", "id": "e1", "identifier": [{"value": "V1"}], "status": "finished",
           "subject": {"reference": "Patient/p1"}, "length": {"value": 5},
           "period": {"start": "2024-05-19T08:00:00+08:00", "end": "2024-05-24T08:00:00+08:00"}}
    before = {"resourceType": "Observation", "id": "o1", "encounter": {"reference": "Encounter/e1"},
              "effectiveDateTime": "2024-05-20T09:00:00+08:00"}
    after = {"resourceType": "Observation", "id": "o2", "encounter": {"reference": "Encounter/e1"},
             "effectiveDateTime": "2024-05-21T09:00:00+08:00"}
    other = {"resourceType": "Observation", "id": "o3", "encounter": {"reference": "Encounter/e9"},
             "effectiveDateTime": "2024-05-20T09:00:00+08:00"}
    return [pat, enc, before, after, other]


def test_case_bundle_truncates_and_hides_the_discharge():
    idx = AdmissionIndex.build(_resources())
    tb = case_bundle(idx, mrn="MRN1", visit_number="V1", index_time=INDEX)
    ids = [e["resource"]["id"] for e in tb.bundle["entry"]]
    assert ids == ["p1", "e1", "o1"] and (tb.kept, tb.dropped_after_index) == (1, 1)
    enc = tb.bundle["entry"][1]["resource"]
    assert enc["status"] == "in-progress" and "end" not in enc["period"] and "length" not in enc
    assert "deceasedDateTime" not in tb.bundle["entry"][0]["resource"]
    assert "end" in _resources()[1]["period"]  # the source is not modified
    assert case_bundle(idx, mrn="OTHER", visit_number="V1", index_time=INDEX) is None  # MRN must match
    assert case_bundle(idx, mrn="MRN1", visit_number="V2", index_time=INDEX) is None
    early = INDEX - dt.timedelta(days=2)  # before admission: nothing can be shown
    assert case_bundle(idx, mrn="MRN1", visit_number="V1", index_time=early) is None


def test_read_reference_counts_invalid_and_duplicate_rows(tmp_path):
    ref = tmp_path / "H01" / "reference"
    ref.mkdir(parents=True)
    p = ref / "aki-48h.csv"
    p.write_text("mrn,accession_number,visit_number,index_time,label,established_by\n"
                 "M1,,V1,2024-01-01T00:00:00+08:00,1,x\n"
                 "M1,,V1,2024-01-01T00:00:00+08:00,0,x\n"  # duplicate key
                 "M2,,V2,2024-01-01T00:00:00,1,x\n"  # no time zone
                 "M3,,V3,yesterday,1,x\n"
                 "M4,,,2024-01-01T00:00:00+08:00,1,x\n"
                 "M5,,V5,2024-01-01T00:00:00+08:00,yes,x\n", encoding="utf-8")
    t = read_reference(p, "aki-48h")
    assert (t.seen, len(t.rows), t.invalid, t.duplicate) == (6, 1, 4, 1)
    assert t.rows[0].label == 1
    (ref / "cxr-pneumonia.csv").write_text("mrn,label\nM1,1\n", encoding="utf-8")
    with pytest.raises(CorpusInputError, match="lacks column"):
        read_reference(ref / "cxr-pneumonia.csv", "cxr-pneumonia")
