"""Properties over random logs and exports: honest bundles verify; any single-byte forgery is caught."""

from __future__ import annotations

import tempfile
from pathlib import Path

from audit_helpers import checkpoint_for, key_from_seed, make_events, read_zip, write_zip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validation.audit import verify_bundle as standalone
from validation.audit.bundle import build_bundle

KEY = key_from_seed("property key")
LOG = make_events(37, report_hash="c" * 64)


def _bundle(directory: Path, events, size: int, previous: int | None) -> Path:
    log = LOG[:size]
    return build_bundle(directory / "b.zip", events=events, all_leaf_hashes_or_events=log,
                        checkpoint_text=checkpoint_for(log, KEY), public_key_text=KEY.verifier.to_text(),
                        signing_key=KEY, artifacts={"r.json": b'{"x":1}'},
                        previous_checkpoint_text=None if previous is None else checkpoint_for(log, KEY, previous))


@st.composite
def exports(draw):
    size = draw(st.integers(0, len(LOG)))
    full = draw(st.booleans())
    seqs = list(range(1, size + 1)) if full else sorted(draw(st.sets(st.integers(1, max(size, 1)), max_size=size)))
    seqs = [s for s in seqs if s <= size]
    previous = draw(st.none() | st.integers(0, size))
    return size, [LOG[s - 1] for s in seqs], previous


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exports())
def test_honest_exports_verify(export):
    size, events, previous = export
    with tempfile.TemporaryDirectory() as tmp:
        path = _bundle(Path(tmp), events, size, previous)
        kept = None if previous is None else checkpoint_for(LOG[:size], KEY, previous)
        report = standalone.verify(path, KEY.verifier.to_text(), kept)
        assert report.ok, report.summary()
        assert report.event_count == len(events)
        assert report.scope == ("full" if len(events) == size else "subset")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.booleans(), st.data())
def test_any_byte_changed_in_events_is_caught(full, data):
    size = len(LOG)
    events = LOG if full else LOG[::3]
    with tempfile.TemporaryDirectory() as tmp:
        files = read_zip(_bundle(Path(tmp), events, size, None))
        raw = bytearray(files["events.jsonl"])
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
        files["events.jsonl"] = bytes(raw)
        report = standalone.verify(write_zip(Path(tmp) / "t.zip", files), KEY.verifier.to_text())
        assert not report.ok
        assert report.failure.step in ("events", "merkle-root", "inclusion", "statement")


def test_empty_log_exports_and_verifies(tmp_path):
    report = standalone.verify(_bundle(tmp_path, [], 0, None), KEY.verifier.to_text())
    assert report.ok and report.tree_size == 0 and report.scope == "full"


def test_broken_link_in_consecutive_subset_names_the_altered_event(tmp_path):
    files = read_zip(_bundle(tmp_path, LOG[29:], len(LOG), None))  # `--since 30`
    files["events.jsonl"] = files["events.jsonl"].replace(b'"n_cases":330', b'"n_cases":331', 1)  # seq 33
    report = standalone.verify(write_zip(tmp_path / "t.zip", files), KEY.verifier.to_text())
    assert report.failure.step == "events" and report.failure.seq == 33, report.summary()
