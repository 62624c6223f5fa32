"""PHI scan edge cases: gzip and zip members are opened (bounded), and weak tokens do not count in random data."""

from __future__ import annotations

import gzip
import io
import math
import zipfile

import numpy as np
import pytest

import datasets.phi_scan as phi_scan
from datasets.phi_scan import UNSCANNED, PhiTokens, scan

WEAK = "Quenby"  # 6 bytes: below the 8-byte strong length
STRONG = "Marlowe-Ashford"  # 15 bytes
TOKENS = PhiTokens.from_strings({"patient_name": [WEAK, STRONG]})
TEXT = f"Discharge letter. Seen by the team; patient {WEAK} {STRONG} doing well.\n".encode() * 3


def _classes(hits) -> set[tuple[str, str]]:
    return {(h.location, h.token_class) for h in hits}


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_gzip_content_is_scanned():
    blob = gzip.compress(TEXT * 50)
    assert STRONG.encode() not in blob  # the raw bytes alone would not reveal it
    assert ("notes.gz!gunzip", "patient_name") in _classes(scan([], TOKENS, extra_blobs={"notes.gz": blob}))


def test_multi_member_gzip_is_scanned_to_the_end():
    blob = gzip.compress(b"nothing here\n" * 100) + gzip.compress(TEXT)
    assert ("x.gz!gunzip", "patient_name") in _classes(scan([], TOKENS, extra_blobs={"x.gz": blob}))


def test_zip_members_and_nested_archives_are_scanned_by_index(tmp_path):
    inner = _zip({"deep/letter.txt": TEXT})
    outer = _zip({"readme.txt": b"no names", "inner.zip": inner, "notes.txt.gz": gzip.compress(TEXT)})
    path = tmp_path / "bundle.zip"
    path.write_bytes(outer)
    got = _classes(scan([path], TOKENS))
    assert (f"{path}!member[1]!member[0]", "patient_name") in got
    assert (f"{path}!member[2]!gunzip", "patient_name") in got
    assert not any("member[0]" == loc.rsplit("!", 1)[-1] and loc.count("!") == 1 for loc, _ in got)
    assert not any("letter" in loc or "inner" in loc for loc, _ in got)  # member names are never echoed


def test_clean_archives_give_no_hits():
    blobs = {"a.gz": gzip.compress(b"nothing to see " * 1000), "b.zip": _zip({"x.txt": b"still nothing"})}
    assert scan([], TOKENS, extra_blobs=blobs) == []


def test_archives_that_cannot_be_read_in_full_are_reported(monkeypatch):
    monkeypatch.setattr(phi_scan, "_MAX_INFLATE", 10_000)
    bomb = gzip.compress(b"\0" * 100_000)
    truncated = gzip.compress(TEXT * 20)[:-30]
    good = _zip({"a.txt": TEXT * 5})
    corrupt = bytearray(good)
    start = good.index(b"a.txt") + len(b"a.txt")  # first bytes of the deflated data of the member
    corrupt[start:start + 8] = b"\xff" * 8
    hits = scan([], TOKENS, extra_blobs={"bomb.gz": bomb, "cut.gz": truncated, "bad.zip": bytes(corrupt),
                                         "notzip.zip": b"PK\x03\x04 garbage"})
    got = _classes(hits)
    for loc in ("bomb.gz!gunzip", "cut.gz!gunzip", "bad.zip!member[0]", "notzip.zip!zip"):
        assert (loc, UNSCANNED) in got, got


def test_nesting_beyond_the_bound_is_reported():
    blob = TEXT
    for _ in range(5):
        blob = gzip.compress(blob)
    got = _classes(scan([], TOKENS, extra_blobs={"n.gz": blob}))
    assert ("n.gz!gunzip!gunzip!gunzip!gunzip", UNSCANNED) in got


def _entropy(data: bytes) -> float:
    counts = [data.count(bytes([b])) for b in range(256)]
    return -sum(c / len(data) * math.log2(c / len(data)) for c in counts if c)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weak_tokens_do_not_count_in_random_data_but_strong_ones_do(seed):
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=64 * 1024, dtype=np.uint8).tobytes()
    assert _entropy(noise[28_000:32_096]) > 7.5  # what the scan calls compressed or random
    weak = noise[:30_000] + b" " + WEAK.encode() + b" " + noise[30_000:]
    strong = noise[:30_000] + b" " + STRONG.encode() + b" " + noise[30_000:]
    assert scan([], TOKENS, extra_blobs={"weak.bin": weak}) == []
    assert ("strong.bin", "patient_name") in _classes(scan([], TOKENS, extra_blobs={"strong.bin": strong}))


def test_weak_tokens_count_in_text_and_in_low_entropy_binary_records():
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, size=64 * 1024, dtype=np.uint8).tobytes()
    letter = b"Seen today in clinic, no complaints. " * 120 + f"patient {WEAK} ".encode() + b"stable. " * 120
    in_text = noise[:30_000] + letter + noise[30_000:]
    page = (b"\x00" * 300 + b"\x0d\x03\x17" + f"{WEAK}".encode() + b"\x00\x00\x01") * 30  # a DB page-like record
    assert _entropy(page) < 7.5
    blobs = {"mixed.bin": in_text, "platform.db": page}
    got = _classes(scan([], TOKENS, extra_blobs=blobs))
    assert ("mixed.bin", "patient_name") in got
    assert ("platform.db", "patient_name") in got


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weak_tokens_in_a_text_chunk_inside_random_data_count(seed):
    """A comment or text chunk (JPEG COM, PNG tEXt, a zip member name) inside compressed data is still text."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=64 * 1024, dtype=np.uint8).tobytes()
    chunk = f" COMMENT: seen by the ward team, patient {WEAK}, follow-up in two weeks ".encode()
    blob = noise[:30_000] + chunk + noise[30_000:]
    assert _entropy(blob[28_000:32_096]) > 7.5
    assert ("chunk.bin", "patient_name") in _classes(scan([], TOKENS, extra_blobs={"chunk.bin": blob}))


def test_the_archives_of_one_file_share_one_inflate_budget(monkeypatch):
    """Members are inflated until the file's budget is spent; the rest are reported unscanned (a nested zip
    bomb costs at most the budget), and another file starts with a budget of its own."""
    monkeypatch.setattr(phi_scan, "_MAX_TOTAL_INFLATE", 25_000)
    members = {f"m{i}.txt": b"x" * 10_000 for i in range(3)} | {"last.txt": TEXT}
    archive = _zip(members)
    got = _classes(scan([], TOKENS, extra_blobs={"a.zip": archive, "b.zip": _zip({"only.txt": TEXT})}))
    assert ("a.zip!member[2]", UNSCANNED) in got  # 10,000 bytes with 5,000 left
    assert ("a.zip!member[3]", "patient_name") in got  # a small member still fits
    assert not any(loc in ("a.zip!member[0]", "a.zip!member[1]") for loc, _ in got)
    assert ("b.zip!member[0]", "patient_name") in got  # its own budget
