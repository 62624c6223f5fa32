"""Validation protocols: the pre-registered task, input view, metrics, subgroups and acceptance criteria.

A protocol is written in YAML by the pilot base, checked here (schema with pydantic; every acceptance rule parsed
and its metric names checked against the protocol's metrics, so that a typo fails at publish time, never at run
time), frozen by the SHA-256 of its canonical JSON, and published once: a published version never changes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select

from validation.audit.log import append_event
from validation.exceptions import Conflict, InvalidInput, NotFound
from validation.identity import Principal
from validation.platform import Platform
from validation.policy import Resource, enforce
from validation.schema import ProtocolRecord

__all__ = [
    "Protocol",
    "PublishedProtocol",
    "load_protocol_file",
    "parse_protocol",
    "protocol_sha256",
    "publish_protocol",
    "list_protocols",
    "get_protocol",
    "TASKS",
    "SUBGROUPS",
]

TASKS = ("cxr-pneumonia", "aki-48h")
SUBGROUPS = ("age_band", "sex", "manufacturer")
_VIEWS = {"cxr-pneumonia": "dicom", "aki-48h": "fhir"}
_ID = r"^[a-z0-9][a-z0-9\-]{1,62}$"
_MAX_FILE = 256 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class InputView(_Strict):
    view: Literal["dicom", "fhir"]
    modalities: tuple[str, ...] = ()


class OutputSpec(_Strict):
    kind: Literal["score"] = "score"
    threshold_from: Literal["model_card"] = "model_card"


class LabelSpec(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    positive: Literal[1] = 1
    reference_standard: Annotated[str, Field(min_length=1, max_length=500)]


class Criterion(_Strict):
    id: Annotated[str, Field(pattern=_ID)]
    rule: Annotated[str, Field(min_length=1, max_length=2000)]


class Protocol(_Strict):
    """A protocol as published (the YAML file's schema)."""

    id: Annotated[str, Field(pattern=_ID)]
    version: Annotated[int, Field(ge=1, le=10_000)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    intended_use: Annotated[str, Field(min_length=10, max_length=4000)]
    task: Literal["cxr-pneumonia", "aki-48h"]
    input: InputView
    output: OutputSpec = OutputSpec()
    label: LabelSpec
    metrics: Annotated[tuple[str, ...], Field(min_length=1)]
    subgroups: tuple[Literal["age_band", "sex", "manufacturer"], ...] = ()
    min_cases_per_group: Annotated[int, Field(ge=1, le=10_000)] = 10
    acceptance: Annotated[tuple[Criterion, ...], Field(min_length=1)]

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from evaluators import KNOWN_METRICS

        unknown = [m for m in value if m not in KNOWN_METRICS]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(KNOWN_METRICS)}")
        if len(set(value)) != len(value):
            raise ValueError("metrics are listed more than once")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Protocol:
        from evaluators import EvaluatorError, parse_rule

        if _VIEWS[self.task] != self.input.view:
            raise ValueError(f"task {self.task} takes input view {_VIEWS[self.task]!r}, not {self.input.view!r}")
        ids = [c.id for c in self.acceptance]
        if len(set(ids)) != len(ids):
            raise ValueError("acceptance criteria ids must be unique")
        for criterion in self.acceptance:
            try:
                parse_rule(criterion.rule, known=self.metrics)
            except EvaluatorError as exc:
                raise ValueError(f"acceptance criterion {criterion.id!r}: {exc}") from None
        if "manufacturer" in self.subgroups and self.input.view != "dicom":
            raise ValueError("subgroup 'manufacturer' exists only for image (dicom) protocols")
        return self


def protocol_sha256(protocol: Protocol) -> str:
    """SHA-256 of the protocol's canonical JSON (sorted keys, compact, UTF-8): independent of YAML formatting."""
    body = protocol.model_dump(mode="json")
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    ).hexdigest()


def _explain(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def load_protocol_file(path: str | Path) -> Protocol:
    """Read and check a protocol YAML file.

    Raises
    ------
    InvalidInput
        The file is missing, too big, not YAML, or breaks the schema; the message names the first field at fault.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"protocol file {path} not found", hint="give the path of a protocol YAML file")
    if path.stat().st_size > _MAX_FILE:
        raise InvalidInput(f"protocol file {path} is larger than {_MAX_FILE // 1024} KiB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse_protocol(text, name=str(path))


def parse_protocol(text: str | bytes, *, name: str = "protocol") -> Protocol:
    """Check a protocol given as YAML text (an upload, say); ``name`` is how messages refer to it.

    Raises
    ------
    InvalidInput
        Too big, not UTF-8, not YAML, or breaks the schema; the message names the first field at fault.
    """
    import yaml

    if isinstance(text, bytes):
        if len(text) > _MAX_FILE:
            raise InvalidInput(f"{name} is larger than {_MAX_FILE // 1024} KiB")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{name} is not UTF-8 text", hint="save the protocol as UTF-8 YAML") from None
    if len(text.encode("utf-8")) > _MAX_FILE:
        raise InvalidInput(f"{name} is larger than {_MAX_FILE // 1024} KiB")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{name} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{name} must hold a YAML mapping (id, version, ...)")
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(
            f"protocol {Path(name).name} is not valid: {_explain(exc)}",
            hint="see examples/protocols/ for complete protocols",
        ) from None


class PublishedProtocol(_Strict):
    """A protocol version as stored: the protocol, its hash, and who published it when."""

    protocol: Protocol
    sha256: str
    published_at: str
    published_by: str


def _published(row: ProtocolRecord) -> PublishedProtocol:
    at = row.published_at if row.published_at.tzinfo else row.published_at.replace(tzinfo=UTC)
    return PublishedProtocol(
        protocol=Protocol.model_validate(row.body),
        sha256=row.sha256,
        published_at=at.isoformat(timespec="seconds"),
        published_by=row.published_by,
    )


def publish_protocol(platform: Platform, principal: Principal, protocol: Protocol) -> tuple[PublishedProtocol, bool]:
    """Publish a protocol version (admin), frozen by hash.

    Returns
    -------
    (PublishedProtocol, bool)
        The stored version and whether it was new (publishing the identical protocol again changes nothing).

    Raises
    ------
    Conflict
        A different protocol was already published under the same id and version.
    """
    enforce(platform.db, principal, "protocol.publish", Resource(kind="protocol", id=protocol.id))
    digest = protocol_sha256(protocol)
    with platform.db.write() as session:
        row = session.scalar(
            select(ProtocolRecord).where(
                ProtocolRecord.protocol_id == protocol.id, ProtocolRecord.version == protocol.version
            )
        )
        if row is not None:
            if row.sha256 == digest:
                return _published(row), False
            raise Conflict(
                f"protocol {protocol.id} version {protocol.version} is already published with different content",
                hint="a published protocol never changes: publish the change as a new version",
            )
        row = ProtocolRecord(
            protocol_id=protocol.id,
            version=protocol.version,
            sha256=digest,
            body=protocol.model_dump(mode="json"),
            published_at=datetime.now(UTC),
            published_by=principal.user_id,
        )
        session.add(row)
        append_event(
            session,
            principal,
            "protocol.publish",
            "protocol",
            f"{protocol.id}@{protocol.version}",
            object_sha256=digest,
            details={"task": protocol.task, "criteria": len(protocol.acceptance)},
        )
        session.flush()
        return _published(row), True


def list_protocols(platform: Platform, principal: Principal) -> list[PublishedProtocol]:
    """Every published protocol version (every role may read protocols)."""
    enforce(platform.db, principal, "protocol.read", Resource(kind="protocol"))
    with platform.db.read() as session:
        rows = session.scalars(select(ProtocolRecord).order_by(ProtocolRecord.protocol_id, ProtocolRecord.version))
        return [_published(r) for r in rows]


def get_protocol(
    platform: Platform, principal: Principal, protocol_id: str, version: int | None = None
) -> PublishedProtocol:
    """One published protocol version (the newest when ``version`` is None)."""
    enforce(platform.db, principal, "protocol.read", Resource(kind="protocol", id=protocol_id))
    with platform.db.read() as session:
        query = select(ProtocolRecord).where(ProtocolRecord.protocol_id == protocol_id)
        if version is not None:
            query = query.where(ProtocolRecord.version == version)
        row = session.scalars(query.order_by(ProtocolRecord.version.desc()).limit(1)).first()
        if row is None:
            what = f"{protocol_id} version {version}" if version is not None else protocol_id
            raise NotFound(f"no published protocol {what}", hint="'clinval protocol list' shows them")
        return _published(row)
