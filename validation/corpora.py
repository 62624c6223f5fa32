"""Corpus versions on the platform: ingest (de-identify, version, quality, PHI scan), list, show, check, accept.

The files of a version live in ``$CLINVAL_HOME/corpora/<corpus-id>`` (built by :mod:`datasets.corpus`); the
platform database records who ingested it, its counts, its quality verdict and whether it may be used for
evaluation. A corpus whose critical quality expectations fail is not usable until an admin accepts it with a reason.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from validation.audit.log import append_event
from validation.exceptions import ClinvalError, Conflict, InvalidInput, NotFound
from validation.identity import Principal
from validation.platform import Platform
from validation.policy import Resource, decide, enforce
from validation.schema import Corpus

__all__ = [
    "CorpusInfo",
    "IngestFailed",
    "ingest_corpus",
    "list_corpora",
    "get_corpus",
    "check_corpus",
    "accept_corpus",
    "corpus_dir",
    "require_usable",
    "pseudonym_secret",
]


class IngestFailed(ClinvalError):
    """The ingest was stopped (e.g. the PHI leak scan found identifying data); nothing was registered."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CorpusInfo:
    id: str
    name: str
    sites: tuple[str, ...]
    tasks: tuple[str, ...]
    counts: dict
    quarantined: dict
    quality_ok: bool | None
    usable: bool
    accepted_reason: str | None
    created_at: str


def _info(row: Corpus) -> CorpusInfo:
    at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return CorpusInfo(id=row.id, name=row.name, sites=tuple(row.sites), tasks=tuple(row.tasks), counts=dict(row.counts),
                      quarantined=dict(row.quarantined), quality_ok=row.quality_ok, usable=row.usable,
                      accepted_reason=row.accepted_reason, created_at=at.isoformat(timespec="seconds"))


def _resource(row: Corpus | None, corpus_id: str) -> Resource:
    return Resource(kind="corpus", id=corpus_id, sites=frozenset(row.sites) if row else frozenset())


def pseudonym_secret(platform: Platform) -> bytes:
    """The pseudonymisation secret kept in the home (never in a corpus)."""
    from validation.home import PSEUDONYM_KEY

    return (platform.settings.keys_dir / PSEUDONYM_KEY).read_bytes()


def corpus_dir(platform: Platform, corpus_id: str) -> Path:
    """Folder of a corpus version; ids are 64 hex digits, checked before any path is built."""
    if not isinstance(corpus_id, str) or len(corpus_id) != 64 or any(c not in "0123456789abcdef" for c in corpus_id):
        raise NotFound(f"no corpus {corpus_id!r}", hint="corpus ids are 64 hex digits; 'clinval corpus list'")
    return platform.home / "corpora" / corpus_id


def _resolve_id(platform: Platform, corpus_id: str) -> str:
    """Accept a unique prefix of at least 8 hex digits, as people type them."""
    if isinstance(corpus_id, str) and 8 <= len(corpus_id) < 64:
        with platform.db.read() as session:
            ids = [i for i in session.scalars(select(Corpus.id)) if i.startswith(corpus_id)]
        if len(ids) == 1:
            return ids[0]
    return corpus_id


def _platform_blobs(platform: Platform) -> dict[str, bytes]:
    """What the PHI scan reads of the platform itself: the audit log (and the database file when embedded)."""
    from validation.audit.canonical import canonical_json
    from validation.audit.log import iter_events

    blobs = {}
    with platform.db.read() as session:
        blobs["audit-events"] = b"\n".join(canonical_json(e) for e in iter_events(session))
    path = platform.db.sqlite_path
    if path is not None and path.exists():
        blobs["platform.db"] = path.read_bytes()
        wal = Path(str(path) + "-wal")
        if wal.exists():
            blobs["platform.db-wal"] = wal.read_bytes()
    return blobs


def _ingest_failed(platform: Platform, principal: Principal, corpus_id: str, hits: list) -> None:
    """Record a PHI-leak failure (token class and file, never the token) and raise :class:`IngestFailed`."""
    first = hits[0] if hits else None
    where = Path(str(first.location)).name if first else "-"
    kind = first.token_class if first else "-"
    with platform.db.write() as session:
        append_event(session, principal, "corpus.ingest_failed", "corpus", corpus_id,
                     details={"reason": "phi-leak", "hits": len(hits), "first_class": kind, "first_file": where})
    raise IngestFailed(
        f"PHI leak scan found {len(hits)} hit(s), first a {kind} in {where}; nothing was registered",
        hint="report this as a de-identification defect; do not use this export until it is fixed",
    )


def ingest_corpus(
    platform: Platform,
    principal: Principal,
    export_dir: str | Path,
    *,
    sites=None,
    name: str | None = None,
    progress=None,
    workers: int | None = None,
) -> CorpusInfo:
    """De-identify a hospital export into a new corpus version (admin), check its quality, scan every byte the
    ingest wrote (and the platform database and audit log) for the source's PHI, and register it.

    Raises
    ------
    IngestFailed
        The PHI scan found identifying data: the version is deleted and the failure recorded (token class and file,
        never the token).
    """
    from datasets.corpus import CorpusError, PhiLeakError, build_corpus
    from datasets.phi_scan import harvest_tokens, scan
    from datasets.quality import run_quality

    enforce(platform.db, principal, "corpus.ingest", Resource(kind="corpus", id="new"))
    export_dir = Path(export_dir)
    if not export_dir.is_dir():
        raise InvalidInput(f"export directory {export_dir} not found", hint="give the folder holding SITE/ folders")
    root = platform.home / "corpora"
    try:
        version = build_corpus(export_dir, root, secret=pseudonym_secret(platform), sites=sites,
                               progress=progress, workers=workers)
    except PhiLeakError as exc:  # the corpus's own gate: nothing was written
        _ingest_failed(platform, principal, "-", list(exc.hits))
    except CorpusError as exc:
        raise InvalidInput(f"cannot ingest {export_dir.name}: {exc}") from None
    with platform.db.read() as session:
        if session.get(Corpus, version.corpus_id) is not None:
            raise Conflict(f"corpus {version.corpus_id[:12]} is already registered (same export, same secret)",
                           hint="a corpus version is immutable; 'clinval corpus show ID'")
    quality = run_quality(version.path, gx_root=platform.home / "gx")
    tokens = harvest_tokens(export_dir)
    hits = scan([version.path], tokens, extra_blobs=_platform_blobs(platform))
    if hits:
        shutil.rmtree(version.path, ignore_errors=True)
        _ingest_failed(platform, principal, version.corpus_id, hits)
    now = datetime.now(UTC)
    with platform.db.write() as session:
        row = Corpus(id=version.corpus_id, name=(name or export_dir.name)[:200], sites=list(version.sites),
                     tasks=list(version.tasks), counts={s: dict(v) for s, v in version.counts.items()},
                     quarantined=dict(version.quarantined), quality_ok=quality.usable, usable=quality.usable,
                     created_at=now, created_by=principal.user_id)
        session.add(row)
        append_event(session, principal, "corpus.ingest", "corpus", version.corpus_id,
                     object_sha256=version.manifest_sha256,
                     details={"sites": list(version.sites), "tasks": list(version.tasks),
                              "cases": version.n_cases(), "quarantined": sum(version.quarantined.values()),
                              "quality_usable": quality.usable, "phi_scan": "clean"})
        return _info(row)


def list_corpora(platform: Platform, principal: Principal) -> list[CorpusInfo]:
    """Corpus versions the caller may see (admin and regulator: all; reviewers: those with their hospital)."""
    with platform.db.read() as session:
        rows = session.scalars(select(Corpus).order_by(Corpus.created_at.desc())).all()
        return [_info(r) for r in rows if decide(principal, "corpus.read", _resource(r, r.id)).allowed]


def get_corpus(platform: Platform, principal: Principal, corpus_id: str) -> CorpusInfo:
    corpus_id = _resolve_id(platform, corpus_id)
    with platform.db.read() as session:
        row = session.get(Corpus, corpus_id)
        info = _info(row) if row else None
        resource = _resource(row, corpus_id)
    enforce(platform.db, principal, "corpus.read", resource)
    if info is None:
        raise NotFound(f"no corpus {corpus_id!r}", hint="'clinval corpus list' shows them")
    return info


def check_corpus(platform: Platform, principal: Principal, corpus_id: str) -> tuple[CorpusInfo, dict]:
    """Re-verify every file against the manifest and return the stored data-quality results."""
    import json

    from datasets.corpus import CorpusError, load_corpus

    info = get_corpus(platform, principal, corpus_id)
    path = corpus_dir(platform, info.id)
    try:
        load_corpus(path)
        integrity = "ok"
    except CorpusError as exc:
        integrity = f"FAILED: {exc}"
    quality_file = path / "quality.json"
    quality = json.loads(quality_file.read_text(encoding="utf-8")) if quality_file.exists() else {}
    return info, {"integrity": integrity, "quality": quality}


def accept_corpus(platform: Platform, principal: Principal, corpus_id: str, *, reason: str) -> CorpusInfo:
    """Make a corpus whose critical quality checks failed usable for evaluation (admin), with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("accepting a corpus needs --reason", hint="say why the failed checks are acceptable")
    corpus_id = _resolve_id(platform, corpus_id)
    enforce(platform.db, principal, "corpus.accept", Resource(kind="corpus", id=corpus_id))
    with platform.db.write() as session:
        row = session.get(Corpus, corpus_id)
        if row is None:
            raise NotFound(f"no corpus {corpus_id!r}")
        if row.usable:
            raise Conflict(f"corpus {corpus_id[:12]} is already usable", hint="nothing to accept")
        row.usable, row.accepted_reason = True, reason[:2000]
        append_event(session, principal, "corpus.accept", "corpus", corpus_id, reason=reason[:2000],
                     details={"quality_ok": row.quality_ok})
        return _info(row)


def require_usable(platform: Platform, principal: Principal, corpus_id: str) -> CorpusInfo:
    """The corpus, or a clear refusal if its quality gate has not been passed or accepted."""
    info = get_corpus(platform, principal, corpus_id)
    if not info.usable:
        raise Conflict(
            f"corpus {info.id[:12]} failed critical data-quality checks and is not usable for evaluation",
            hint="see 'clinval corpus check ID'; an admin may 'clinval corpus accept ID --reason ...'",
        )
    return info


