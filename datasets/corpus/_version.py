"""A corpus version on disk: its record (:class:`CorpusVersion`) and :func:`load_corpus`, which re-verifies it."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from datasets.corpus._manifest import FORMAT_VERSION, MANIFEST_NAME, REPORT_NAME, canonical_bytes, verify_tree
from datasets.corpus.errors import CorpusIntegrityError

__all__ = ["CorpusVersion", "load_corpus", "version_from_manifest"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CorpusVersion:
    """An immutable, verified corpus version.

    Attributes
    ----------
    corpus_id : str
        sha256 hex (64 characters) of the canonical ``manifest.json`` bytes; the version's directory name.
    path : str
        The version directory, ``<corpora_root>/<corpus_id>``.
    sites, tasks : tuple of str
        Sites and tasks ingested, in manifest order.
    counts : Mapping[str, Mapping[str, int]]
        Cases in the corpus per site and task (site -> task -> n).
    quarantined : Mapping[str, int]
        Quarantined inputs (DICOM files, FHIR lines, admissions) per reason code, over all sites.
    manifest_sha256 : str
        sha256 hex of ``manifest.json`` as stored (equal to ``corpus_id``).
    """

    corpus_id: str
    path: str
    sites: tuple[str, ...]
    tasks: tuple[str, ...]
    counts: Mapping[str, Mapping[str, int]]
    quarantined: Mapping[str, int]
    manifest_sha256: str

    def __post_init__(self) -> None:
        if len(self.corpus_id) != 64 or any(c not in "0123456789abcdef" for c in self.corpus_id):
            raise ValueError(f"corpus_id must be 64 lower-case hex digits; got {self.corpus_id!r}")
        object.__setattr__(self, "sites", tuple(self.sites))
        object.__setattr__(self, "tasks", tuple(self.tasks))

    def n_cases(self, *, site: str | None = None, task: str | None = None) -> int:
        """Number of cases, optionally for one site and/or task."""
        return sum(n for s, per in self.counts.items() if site in (None, s)
                   for t, n in per.items() if task in (None, t))

    def index_path(self, site: str) -> Path:
        """``sites/<site>/index.parquet`` of this version."""
        return Path(self.path) / "sites" / site / "index.parquet"

    def labels_path(self, site: str) -> Path:
        """``labels/<site>/labels.parquet`` of this version."""
        return Path(self.path) / "labels" / site / "labels.parquet"


def version_from_manifest(path: Path, manifest: dict, raw: bytes) -> CorpusVersion:
    """Build the record from a parsed manifest and its bytes (no file verification)."""
    digest = hashlib.sha256(raw).hexdigest()
    counts = {site: dict(per) for site, per in manifest.get("counts", {}).items()}
    return CorpusVersion(corpus_id=digest, path=os.fspath(path), sites=tuple(manifest.get("sites", ())),
                         tasks=tuple(manifest.get("tasks", ())), counts=counts,
                         quarantined=dict(manifest.get("quarantined", {})), manifest_sha256=digest)


def load_corpus(path: str | os.PathLike) -> CorpusVersion:
    """Open a corpus version and verify it against its manifest.

    Every listed file must exist with its size and sha256; no other file may exist except ``manifest.json`` and
    ``quality.json``; the manifest must be canonical and hash to the directory's name.

    Parameters
    ----------
    path : path-like
        The version directory (``<corpora_root>/<corpus_id>``).

    Returns
    -------
    CorpusVersion

    Raises
    ------
    CorpusIntegrityError
        Naming the first bad file (``.path``) and what is wrong with it (``.problem``): missing or extra files
        first (in sorted path order), then files whose size or sha256 differs.
    """
    root = Path(path)
    mpath = root / MANIFEST_NAME
    if not mpath.is_file():
        raise CorpusIntegrityError(f"{root} holds no {MANIFEST_NAME}; pass a corpus version directory written by "
                                   "build_corpus (corpora_root/<corpus_id>).", path=MANIFEST_NAME,
                                   problem="missing")
    raw = mpath.read_bytes()
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise CorpusIntegrityError(f"{MANIFEST_NAME} in {root} is not JSON; the version is damaged. Re-ingest the "
                                   "export.", path=MANIFEST_NAME) from None
    if not isinstance(manifest, dict) or canonical_bytes(manifest) != raw:
        raise CorpusIntegrityError(f"{MANIFEST_NAME} in {root} is not in canonical form (edited by hand?); "
                                   "re-ingest the export.", path=MANIFEST_NAME)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CorpusIntegrityError(f"{MANIFEST_NAME} has format_version {manifest.get('format_version')!r}; this "
                                   f"clinval reads version {FORMAT_VERSION}. Re-ingest with this version.",
                                   path=MANIFEST_NAME)
    digest = hashlib.sha256(raw).hexdigest()
    if root.name != digest:
        raise CorpusIntegrityError(f"the manifest hashes to {digest[:16]}..., but the directory is named "
                                   f"{root.name[:16]}...; the manifest was changed or the directory renamed.",
                                   path=MANIFEST_NAME)
    verify_tree(root, manifest)
    if REPORT_NAME not in {e["path"] for e in manifest["files"]}:
        raise CorpusIntegrityError(f"the manifest does not list {REPORT_NAME}; the version is incomplete. "
                                   "Re-ingest the export.", path=REPORT_NAME, problem="missing")
    return version_from_manifest(root, manifest, raw)
