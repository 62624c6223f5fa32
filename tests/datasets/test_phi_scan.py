"""PHI leak scan: tokens harvested from the source, nothing found in a de-identified corpus, plants found and
named by class and file without the token."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pydicom
import pytest
from _corpus_fixtures import copy_version, corpus_export, small_corpus  # noqa: F401

from datasets.phi_scan import Hit, PhiTokens, harvest_tokens, scan, token_rule
from datasets.synthetic import phi_tokens

_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def tokens(corpus_export):
    return harvest_tokens(corpus_export)


@pytest.fixture(scope="module")
def generator_tokens(corpus_export):
    """The generator's own list (an independent cross-check); free text is sentences, not tokens."""
    return PhiTokens.from_strings({k: v for k, v in phi_tokens(corpus_export).items() if k != "free_text"})


def _all_strings(t: PhiTokens) -> set[str]:
    return set().union(*t.strings.values())


def test_token_rule():
    assert token_rule("张伟") and token_rule("欧阳娜娜") and not token_rule("张")
    assert not token_rule("Wei") and token_rule("Zhang") and token_rule("Li Wei")
    assert not token_rule("12345") and token_rule("123456") and not token_rule("   ")
    assert not token_rule("NAME^NONE") and not token_rule("Anonymous") and token_rule("None Smith")


def test_harvest_covers_what_the_generator_wrote_in_structured_fields(tokens, generator_tokens):
    mine = _all_strings(tokens)
    for kind in ("patient_name", "mrn", "resident_id", "accession_number", "visit_number", "birth_date", "phone",
                 "device_serial", "station_name", "institution_name", "institution_address", "uid"):
        missing = generator_tokens.strings.get(kind, frozenset()) - mine
        assert not missing, f"{kind}: {len(missing)} generator tokens not harvested"
    two_char = [t for t in tokens.strings["patient_name"] if _CJK.search(t) and len(t) == 2]
    assert two_char, "2-character Chinese names must be kept"
    assert "PhiTokens(" in repr(tokens) and not any(t in repr(tokens) for t in two_char)


def test_gb18030_names_are_harvested_and_found_in_gb18030(corpus_export, tokens):
    f = sorted((corpus_export / "H09" / "dicom").rglob("*.dcm"))[0]
    ds = pydicom.dcmread(f)
    ideographic = str(ds.PatientName).split("=")[1]
    family, given = ideographic.split("^")
    assert {family + given, ideographic} <= tokens.strings["patient_name"]
    raw = f.read_bytes()
    assert ideographic.encode("utf-8") not in raw and ideographic.encode("gb18030") in raw
    hits = scan([f], PhiTokens.from_strings({"patient_name": [ideographic]}))
    assert [(h.token_class, h.encoding) for h in hits] == [("patient_name", "gb18030")]


def test_de_identified_corpus_scans_clean(small_corpus, tokens, generator_tokens):
    assert len(tokens) > 500
    assert scan([small_corpus.path], tokens | generator_tokens) == []


def test_identified_dicom_planted_in_the_corpus_is_found(small_corpus, corpus_export, tokens, tmp_path):
    v = copy_version(small_corpus.path, tmp_path)
    src = sorted((corpus_export / "H09" / "dicom").rglob("*.dcm"))[0]
    plant = v / "sites" / "H09" / "inputs" / "00" / "planted.dcm"
    plant.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, plant)
    deflated = sorted((corpus_export / "H15" / "dicom").rglob("*.dcm"))[0]
    assert pydicom.dcmread(deflated, stop_before_pixels=True).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1.99"
    shutil.copy(deflated, v / "sites" / "H15" / "deflated.dcm")
    hits = scan([v], tokens)
    where = {h.location for h in hits}
    assert where == {f"{v.name}/sites/H09/inputs/00/planted.dcm", f"{v.name}/sites/H15/deflated.dcm#decoded"}
    classes = {h.token_class for h in hits if h.location.endswith("planted.dcm")}
    assert {"patient_name", "patient_id", "accession_number", "birth_date", "institution_name",
            "device_serial", "physician_name"} <= classes
    text = " ".join(str(h) + repr(h) for h in hits)
    ds = pydicom.dcmread(src)
    for secret in (ds.PatientID, ds.AccessionNumber, str(ds.PatientName).split("=")[0].split("^")[0]):
        assert secret not in text


def _name_of_h09_patient(corpus_export) -> str:
    ds = pydicom.dcmread(sorted((corpus_export / "H09" / "dicom").rglob("*.dcm"))[1])
    family, given = str(ds.PatientName).split("=")[1].split("^")
    return family + given


@pytest.mark.parametrize("compression", ["NONE", "gzip"])
def test_parquet_row_with_a_name_is_found(small_corpus, corpus_export, tokens, tmp_path, compression):
    v = copy_version(small_corpus.path, tmp_path)
    path = v / "sites" / "H04" / "index.parquet"
    table = pq.read_table(path).to_pylist()
    table[0]["manufacturer"] = _name_of_h09_patient(corpus_export)  # a 2-character name, 6 bytes in UTF-8
    # gzip without statistics: the name is nowhere in the raw bytes, only in the decoded values
    pq.write_table(pa.Table.from_pylist(table), path, compression=compression, write_statistics=False)
    hits = scan([v], tokens)
    assert {h.token_class for h in hits} == {"patient_name"}
    expected = {f"{v.name}/sites/H04/index.parquet"} if compression == "NONE" else \
        {f"{v.name}/sites/H04/index.parquet#decoded"}
    assert {h.location for h in hits} == expected


def test_blobs_case_insensitive_json_escaped_and_bounded(corpus_export, tokens):
    ds = pydicom.dcmread(sorted((corpus_export / "DEV" / "dicom").rglob("*.dcm"))[0], stop_before_pixels=True)
    western = str(ds.PatientName).split("=")[0].replace("^", " ")
    name = _name_of_h09_patient(corpus_export)
    blobs = {
        "audit.jsonl": json.dumps({"actor": "x", "reason": f"asked by {western.upper()}"}).encode(),
        "db.sql": json.dumps({"note": name}, ensure_ascii=True).encode(),
        "log.txt": f"id=9{ds.PatientID}9 and mrn{ds.PatientID}x".encode(),  # inside longer tokens: no hit
    }
    hits = scan([], tokens, extra_blobs=blobs)
    got = {(h.location, h.token_class, h.encoding) for h in hits}
    assert ("db.sql", "patient_name", "json-escape") in got
    assert any(loc == "audit.jsonl" and c == "patient_name" for loc, c, _ in got)
    assert not any(loc == "log.txt" for loc, _, _ in got)


def test_pixel_data_ignores_weak_patterns_but_not_strong_ones(small_corpus, corpus_export, tokens, tmp_path):
    v = copy_version(small_corpus.path, tmp_path)
    rel = next(e["path"] for e in json.loads((v / "manifest.json").read_bytes())["files"]
               if e["path"].startswith("sites/H09/inputs") and e["path"].endswith(".dcm"))
    data = bytearray((v / rel).read_bytes())
    weak = _name_of_h09_patient(corpus_export).encode("gb18030")  # 4 bytes: could be noise in 16-bit pixels
    assert len(weak) == 4
    data[-200:-196] = weak
    (v / rel).write_bytes(bytes(data))
    assert scan([v / rel], tokens) == []
    mrn = sorted(tokens.strings["patient_id"], key=len)[-1]
    data[-100:-100 + len(mrn) + 2] = b" " + mrn.encode() + b" "
    (v / rel).write_bytes(bytes(data))
    assert [h.token_class for h in scan([v / rel], tokens)] == ["patient_id"]
    assert [h.token_class for h in scan([], tokens, extra_blobs={"x": b"<" + weak + b">"})] == ["patient_name"]


def _brute(data: bytes, tokens: PhiTokens) -> set[tuple[int, str]]:
    low = data.lower()
    out = set()
    an = set(b"abcdefghijklmnopqrstuvwxyz0123456789")
    for pat, kind, _ in tokens.patterns():
        p = pat.lower()
        start = low.find(p)
        while start >= 0:
            end = start + len(p)
            left_ok = not (p[0] in an and start > 0 and low[start - 1] in an)
            right_ok = not (p[-1] in an and end < len(low) and low[end] in an)
            if left_ok and right_ok:
                out.add((start, kind))
            start = low.find(p, start + 1)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_matcher_agrees_with_brute_force(seed):
    rng = np.random.default_rng(seed)
    alphabet = list("abcdeABCDE0123 ^-") + ["张", "伟", "李"]
    words = {"".join(rng.choice(alphabet, size=int(rng.integers(2, 9)))) for _ in range(60)}
    t = PhiTokens.from_strings({"a": list(words)[:30], "b": list(words)[30:]})
    pieces = []
    for _ in range(400):
        if rng.random() < 0.3 and t.patterns():
            pat, _, _ = t.patterns()[int(rng.integers(len(t.patterns())))]
            pieces.append(pat.upper() if rng.random() < 0.5 else pat)
        else:
            pieces.append(bytes(rng.integers(0, 256, size=int(rng.integers(0, 12)), dtype=np.uint8)))
    data = b"".join(pieces)
    from datasets.phi_scan import _Matcher

    m = _Matcher(t)
    got = {(off, m.patterns[pi][1]) for off, pi in m.find(data)}
    assert got == _brute(data, t)


def test_hit_has_no_token_field():
    assert set(Hit.__dataclass_fields__) == {"token_class", "location", "count", "first_offset", "encoding"}
    with pytest.raises(FileNotFoundError):
        scan([Path("/nonexistent-dir-xyz")], PhiTokens.from_strings({}))
    assert scan([], PhiTokens.from_strings({}), extra_blobs={"x": b"anything"}) == []
