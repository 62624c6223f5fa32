"""The manifest of a corpus version: every hashed file with its sha256 and size, plus deterministic metadata.

The manifest is written as canonical JSON (keys sorted, no insignificant whitespace, UTF-8, newline at the end);
the corpus id is the sha256 hex digest (all 64 characters) of exactly those bytes, so ``manifest.json`` hashes to
the corpus id and any change to a file, a count or an option gives a new id.

Hashed set: every regular file under ``sites/`` and ``labels/``, and ``ingest_report.json``. Outside it, by design:
``manifest.json`` itself and ``quality.json`` (data-quality results, written after the version exists).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from datasets.corpus.errors import CorpusIntegrityError

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "QUALITY_NAME",
    "REPORT_NAME",
    "UNHASHED_NAMES",
    "canonical_bytes",
    "hash_file",
    "hashed_files",
    "verify_tree",
]

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
REPORT_NAME = "ingest_report.json"
QUALITY_NAME = "quality.json"
UNHASHED_NAMES = frozenset({MANIFEST_NAME, QUALITY_NAME})
"""Top-level files of a version that the manifest does not list."""


def canonical_bytes(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, compact separators, UTF-8, a final newline."""
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            + "\n").encode("utf-8")


def hash_file(path: Path) -> tuple[str, int]:
    """sha256 hex and size of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def hashed_files(root: Path) -> list[str]:
    """Relative POSIX paths of every file of ``root`` that is not in :data:`UNHASHED_NAMES`, sorted.

    Symbolic links and other non-regular files are returned too, so that verification reports them as extra.
    """
    out = []
    for p in root.rglob("*"):
        if p.is_dir() and not p.is_symlink():
            continue
        rel = p.relative_to(root).as_posix()
        if rel in UNHASHED_NAMES:
            continue
        out.append(rel)
    return sorted(out)


def verify_tree(root: Path, manifest: dict) -> None:
    """Check every file the manifest lists (size, then sha256) and that no other file exists.

    Raises
    ------
    CorpusIntegrityError
        Naming the first bad file in sorted path order.
    """
    entries = manifest.get("files")
    if not isinstance(entries, list):
        raise CorpusIntegrityError(f"{root / MANIFEST_NAME} has no 'files' list; the manifest is damaged. "
                                   "Re-ingest the export to build a new corpus version.", path=MANIFEST_NAME)
    listed = {}
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("path"), str):
            raise CorpusIntegrityError("a manifest entry has no 'path'; the manifest is damaged. Re-ingest the "
                                       "export.", path=MANIFEST_NAME)
        listed[e["path"]] = e
    present = hashed_files(root)
    problems: list[tuple[str, str, str]] = []
    for rel in sorted(set(present) - set(listed)):
        problems.append((rel, "extra", "is not listed in the manifest (added after ingest?); remove it"))
    for rel, e in listed.items():
        p = root / rel
        if rel.startswith("/") or ".." in rel.split("/") or not p.is_file() or p.is_symlink():
            problems.append((rel, "missing", "is listed in the manifest but missing (or not a regular file)"))
    problems.sort()
    if problems:
        rel, kind, what = problems[0]
        raise CorpusIntegrityError(f"corpus file {rel} {what}; {len(problems)} problem(s) in total. A corpus "
                                   "version is immutable: restore it from a copy or re-ingest the export.",
                                   path=rel, problem=kind)
    for rel in sorted(listed):
        e = listed[rel]
        p = root / rel
        size = p.stat().st_size
        if size != e.get("size"):
            raise CorpusIntegrityError(f"corpus file {rel} has {size} bytes, the manifest says {e.get('size')}; "
                                       "it was changed after ingest. Restore it or re-ingest the export.",
                                       path=rel, problem="size")
        digest, _ = hash_file(p)
        if digest != e.get("sha256"):
            raise CorpusIntegrityError(f"corpus file {rel} does not match its sha256 in the manifest; it was "
                                       "changed after ingest. Restore it or re-ingest the export.",
                                       path=rel, problem="sha256")
