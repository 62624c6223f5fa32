"""Shared fixtures of the corpus, quality and PHI-scan tests: one small multi-site export and its corpus per session.

Sites: DEV (public split), H04 (CR, MONOCHROME1, creatinine in umol/L), H07 (creatinine under a local code),
H09 (GB18030 names), H15 (deflated transfer syntax). 6 cases per task at 64 x 64 pixels.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from pathlib import Path

import pytest

from datasets.corpus import build_corpus
from datasets.synthetic import generate_export

SITES = ("DEV", "H04", "H07", "H09", "H15")
SECRET = b"clinval-corpus-tests-secret-0123456789"
_CACHE: dict[str, object] = {}


def export_dir(tmp_path_factory) -> Path:
    if "export" not in _CACHE:
        out = tmp_path_factory.mktemp("corpus-export") / "export"
        generate_export(out, sites=list(SITES), cases=6, image_size=64, seed=1, workers=1)
        _CACHE["export"] = out
    return _CACHE["export"]  # type: ignore[return-value]


def corpus(tmp_path_factory):
    if "corpus" not in _CACHE:
        root = tmp_path_factory.mktemp("corpora")
        _CACHE["corpus"] = build_corpus(export_dir(tmp_path_factory), root, secret=SECRET, workers=1)
    return _CACHE["corpus"]


@pytest.fixture(scope="session")
def corpus_export(tmp_path_factory) -> Path:
    """The identified export (treat as PHI)."""
    return export_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """The CorpusVersion of the export (built once, workers=1). Tests must not modify it: copy it first."""
    return corpus(tmp_path_factory)


def expected_case_id(site: str, task: str, mrn: str, key: str) -> str:
    """Independent re-statement of the documented case-id rule."""
    msg = "\x00".join(("clinval-case-id", site, task, f"{mrn}\x00{key}")).encode()
    return "c_" + hmac.new(SECRET, msg, hashlib.sha256).digest()[:10].hex()


def canonical(obj) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def copy_version(version_path: str | Path, dest_root: Path) -> Path:
    """Copy a corpus version (same directory name) under ``dest_root``."""
    src = Path(version_path)
    dst = dest_root / src.name
    shutil.copytree(src, dst)
    return dst


def reseal(version: Path) -> Path:
    """Recompute the manifest of a modified version (as a buggy ingest would have written it) and rename it.

    This lets a test put corrupted tables into a corpus that still passes integrity checks, so that only the
    quality suites can catch them.
    """
    manifest = json.loads((version / "manifest.json").read_bytes())
    files = []
    for p in sorted(version.rglob("*")):
        rel = p.relative_to(version).as_posix()
        if p.is_file() and rel not in ("manifest.json", "quality.json"):
            data = p.read_bytes()
            files.append({"path": rel, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    manifest["files"] = files
    raw = canonical(manifest)
    (version / "manifest.json").write_bytes(raw)
    new = version.parent / hashlib.sha256(raw).hexdigest()
    version.rename(new)
    return new
