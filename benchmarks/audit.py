"""Benchmark of the audit trail's cryptography: hash chain, Merkle tree head, proofs, bundle build and verify.

Every time is reported as a ratio against an anchor measured in the same run on the same bytes: plain SHA-256 of the
events' canonical JSON (one ``hashlib.sha256(line).digest()`` per event). Ratios travel between machines; absolute
times do not.

Usage::

    python benchmarks/audit.py [--events 100000] [--subset 1000] [--json]

The database append measurement (events/s into the append-only table) belongs to the storage layer and is added
beside these numbers by the platform's own benchmark.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from validation.audit import verify_bundle
from validation.audit.bundle import build_bundle
from validation.audit.canonical import ZERO_HASH, canonical_json
from validation.audit.checkpoint import SigningKey, sign_checkpoint
from validation.audit.merkle import MerkleTree, leaf_hash, root_hash

ORIGIN = "bench.example/clinval-audit"


def timed(fn, repeat: int = 1):
    """Best wall time of `repeat` runs and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def make_chain(n: int) -> tuple[list[dict], list[bytes]]:
    """Build `n` events with their hash chain, as the log would; return events and canonical lines."""
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    events, lines, prev = [], [], ZERO_HASH
    for seq in range(1, n + 1):
        event = {
            "seq": seq, "time": (t0 + timedelta(microseconds=seq)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor_id": f"user-{seq % 50}", "actor_role": "admin", "actor_org": f"site-H{seq % 16:02d}",
            "actor_name": "Operator One", "action": "run.site.finish", "object_type": "run",
            "object_id": f"run-{seq % 1000}", "object_sha256": hashlib.sha256(str(seq).encode()).hexdigest(),
            "details": {"site": f"H{seq % 16:02d}", "n_cases": seq % 997, "status": "ok"},
            "reason": None, "meaning": None, "prev_hash": prev,
        }
        line = canonical_json(event)
        prev = hashlib.sha256(line).hexdigest()
        events.append(event)
        lines.append(line)
    return events, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--subset", type=int, default=1_000, help="events in the scoped (subset) export")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    n = args.events
    key = SigningKey(name=ORIGIN, private_key=Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    rng = random.Random(20261126)

    t_chain, (events, lines) = timed(lambda: make_chain(n))
    t_anchor, _ = timed(lambda: [hashlib.sha256(line).digest() for line in lines], repeat=3)
    t_leaves, leaves = timed(lambda: [leaf_hash(line) for line in lines], repeat=3)
    t_tree, tree = timed(lambda: MerkleTree(leaves), repeat=3)
    t_stream, root = timed(lambda: root_hash(leaves), repeat=3)
    assert root == tree.root()
    t_append, _ = timed(lambda: [tree_append.append(h) for tree_append in [MerkleTree()] for h in leaves])
    indices = [rng.randrange(n) for _ in range(1000)]
    t_incl, _ = timed(lambda: [tree.inclusion_proof(i) for i in indices])
    sizes = sorted(rng.randrange(1, n) for _ in range(1000))
    t_cons, _ = timed(lambda: [tree.consistency_proof(m) for m in sizes])

    checkpoint = sign_checkpoint(origin=ORIGIN, tree_size=n, root_hash=root, time=datetime.now(UTC), key=key)
    previous = sign_checkpoint(origin=ORIGIN, tree_size=n // 2, root_hash=tree.root(n // 2),
                               time=datetime.now(UTC), key=key)
    pub = key.verifier.to_text()
    subset = [events[i] for i in sorted(rng.sample(range(n), min(args.subset, n)))]
    with tempfile.TemporaryDirectory() as tmp:
        full_path, sub_path = Path(tmp) / "full.zip", Path(tmp) / "subset.zip"
        t_build, _ = timed(lambda: build_bundle(full_path, events=events, all_leaf_hashes_or_events=tree,
                                                checkpoint_text=checkpoint, public_key_text=pub, signing_key=key,
                                                previous_checkpoint_text=previous))
        t_verify, report = timed(lambda: verify_bundle.verify(full_path, pub, previous))
        assert report.ok, report.summary()
        t_sbuild, _ = timed(lambda: build_bundle(sub_path, events=subset, all_leaf_hashes_or_events=tree,
                                                 checkpoint_text=checkpoint, public_key_text=pub, signing_key=key,
                                                 previous_checkpoint_text=previous))
        t_sverify, sreport = timed(lambda: verify_bundle.verify(sub_path, pub, previous))
        assert sreport.ok, sreport.summary()
        full_mb = full_path.stat().st_size / 1e6
        sub_mb = sub_path.stat().st_size / 1e6

    per100k = 100_000 / n
    rows = [
        ("anchor: sha256 of each event's canonical bytes", t_anchor, n),
        ("build events + hash chain (canonical JSON)", t_chain, n),
        ("leaf hashes", t_leaves, n),
        ("Merkle tree, level cache (bulk)", t_tree, n),
        ("Merkle tree head, streaming", t_stream, n),
        ("Merkle tree, one append at a time", t_append, n),
        ("1000 inclusion proofs", t_incl, 1000),
        ("1000 consistency proofs", t_cons, 1000),
        (f"build full bundle ({full_mb:.1f} MB)", t_build, n),
        ("verify full bundle (all 7 checks)", t_verify, n),
        (f"build subset bundle, {len(subset)} events ({sub_mb:.2f} MB)", t_sbuild, len(subset)),
        (f"verify subset bundle, {len(subset)} events", t_sverify, len(subset)),
    ]
    results = [{"step": name, "seconds": t, "items": items, "items_per_s": items / t if t else float("inf"),
                "ratio_vs_anchor": t / t_anchor} for name, t, items in rows]
    summary = {
        "events": n,
        "chain_events_per_s": n / t_chain,
        "verify_seconds_per_100k_events": t_verify * per100k,
        "verify_ratio_vs_anchor": t_verify / t_anchor,
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps({"results": results, "summary": summary}, indent=2))
        return 0
    print(f"audit benchmark, {n} events (anchor = sha256 of the same canonical bytes: {t_anchor * 1e3:.1f} ms)")
    print(f"{'step':58s} {'seconds':>9s} {'items/s':>12s} {'x anchor':>9s}")
    for r in results:
        print(f"{r['step']:58s} {r['seconds']:9.3f} {r['items_per_s']:12,.0f} {r['ratio_vs_anchor']:9.1f}")
    print(f"hash chain: {summary['chain_events_per_s']:,.0f} events/s; full verify: "
          f"{summary['verify_seconds_per_100k_events']:.2f} s per 100k events "
          f"({summary['verify_ratio_vs_anchor']:.1f}x the sha256 anchor)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
