"""Who may do what: one table of actions, one decision function, one enforcement call.

Every service function that reads or changes state calls :func:`enforce` with the caller's principal, the action
and the object. A refusal raises :class:`~validation.exceptions.AccessDenied` and is recorded in the audit log as
``access.denied`` (in its own transaction, so the refusal is kept even though the refused change is not).

Scopes
------
``any``
    every object.
``org``
    objects owned by the principal's organisation (a vendor's submissions, runs and results).
``site``
    objects that involve the principal's hospital (runs that used its data); case-level reads are further
    filtered to the hospital's own cases by the service that returns them.
``self``
    objects that belong to the principal's own account (its tokens, its user record).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from validation.exceptions import AccessDenied
from validation.identity import Principal, Role

__all__ = ["ACTIONS", "ActionSpec", "Decision", "Resource", "decide", "enforce"]

_A, _V, _R, _G = Role.ADMIN, Role.VENDOR, Role.REVIEWER, Role.REGULATOR


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionSpec:
    """What an action is and which roles may perform it within which scope."""

    name: str
    writes: bool
    case_level: bool = False
    scopes: Mapping[Role, str]

    def __post_init__(self) -> None:
        for role, scope in self.scopes.items():
            if scope not in ("any", "org", "site", "self"):
                raise ValueError(f"action {self.name}: unknown scope {scope!r} for {role}")
            if role is _G and (self.writes or self.case_level):
                raise ValueError(f"action {self.name}: regulators never write nor see case-level data")


def _spec(name: str, *, writes: bool, case_level: bool = False, **scopes: str) -> ActionSpec:
    return ActionSpec(
        name=name,
        writes=writes,
        case_level=case_level,
        scopes=MappingProxyType({Role(role): scope for role, scope in scopes.items()}),
    )


ACTIONS: Mapping[str, ActionSpec] = MappingProxyType(
    {
        s.name: s
        for s in (
            _spec("platform.whoami", writes=False, admin="any", vendor="any", reviewer="any", regulator="any"),
            _spec("platform.config", writes=False, admin="any"),
            _spec("org.create", writes=True, admin="any"),
            _spec("org.read", writes=False, admin="any", regulator="any", vendor="org", reviewer="org"),
            _spec("user.create", writes=True, admin="any"),
            _spec("user.deactivate", writes=True, admin="any"),
            _spec("user.link_identity", writes=True, admin="any"),
            _spec("user.read", writes=False, admin="any", regulator="any", vendor="self", reviewer="self"),
            _spec("token.create", writes=True, admin="any", vendor="self", reviewer="self"),
            _spec("token.revoke", writes=True, admin="any", vendor="self", reviewer="self"),
            _spec("token.read", writes=False, admin="any", vendor="self", reviewer="self", regulator="self"),
            _spec("audit.read", writes=False, admin="any", regulator="any"),
            _spec("audit.export", writes=False, admin="any", regulator="any"),
            _spec("audit.checkpoint", writes=True, admin="any"),
            _spec("audit.check", writes=False, admin="any"),
            _spec("corpus.ingest", writes=True, admin="any"),
            _spec("corpus.accept", writes=True, admin="any"),
            _spec("corpus.read", writes=False, admin="any", regulator="any", reviewer="site"),
            _spec("protocol.publish", writes=True, admin="any"),
            _spec("protocol.read", writes=False, admin="any", regulator="any", vendor="any", reviewer="any"),
            _spec("submission.create", writes=True, vendor="org"),
            _spec("submission.read", writes=False, admin="any", regulator="any", vendor="org"),
            _spec("run.create", writes=True, admin="any"),
            _spec("run.cancel", writes=True, admin="any"),
            _spec("run.read", writes=False, admin="any", regulator="any", vendor="org", reviewer="site"),
            _spec("results.read", writes=False, admin="any", regulator="any", vendor="org", reviewer="site"),
            _spec("results.read_cases", writes=False, case_level=True, reviewer="site"),
            _spec("signoff.create", writes=True, reviewer="site"),
        )
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """The object of an action, reduced to what the policy needs.

    Attributes
    ----------
    kind : str
        e.g. ``user``, ``token``, ``run``.
    id : str
    org : str or None
        Owning organisation code (a vendor's code for submissions and runs).
    sites : frozenset of str
        Hospitals whose data the object involves.
    user_id : str or None
        Owning account, for ``self``-scoped actions.
    """

    kind: str
    id: str = ""
    org: str | None = None
    sites: frozenset[str] = field(default_factory=frozenset)
    user_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sites", frozenset(self.sites))


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The policy's answer, with the reason for a refusal."""

    allowed: bool
    reason: str = ""


def decide(principal: Principal, action: str, resource: Resource | None = None) -> Decision:
    """May ``principal`` perform ``action`` on ``resource``?

    Raises
    ------
    KeyError
        ``action`` is not in :data:`ACTIONS` (a programming error, not a user error).
    """
    spec = ACTIONS[action]
    scope = spec.scopes.get(principal.role)
    if scope is None:
        return Decision(allowed=False, reason=f"role {principal.role.value} may not {action}")
    if scope == "any":
        return Decision(allowed=True)
    if resource is None:
        return Decision(allowed=False, reason=f"{action} needs an object to check scope {scope!r}")
    if scope == "org" and resource.org == principal.org:
        return Decision(allowed=True)
    if scope == "site" and principal.org in resource.sites:
        return Decision(allowed=True)
    if scope == "self" and resource.user_id == principal.user_id:
        return Decision(allowed=True)
    return Decision(allowed=False, reason=f"{resource.kind} {resource.id} is outside the {scope} scope of the caller")


def enforce(db, principal: Principal, action: str, resource: Resource | None = None) -> None:
    """Raise :class:`AccessDenied` (recording an ``access.denied`` audit event) unless the action is allowed.

    Parameters
    ----------
    db : validation.storage.Database
        Where the refusal is recorded.
    """
    decision = decide(principal, action, resource)
    if decision.allowed:
        return
    from validation.audit.log import append_event

    with db.write() as session:
        append_event(
            session,
            principal,
            "access.denied",
            resource.kind if resource else "platform",
            resource.id if resource else "-",
            details={"attempted": action, "why": decision.reason},
        )
    raise AccessDenied(
        f"{principal.username} ({principal.role.value}, {principal.org}) may not {action}"
        + (f" on {resource.kind} {resource.id}" if resource and resource.id else ""),
        hint="ask the pilot-base admin if you believe you should have access",
    )


def allowed_roles(action: str) -> Iterable[Role]:
    """Roles that may perform ``action`` in some scope (for help texts and pages)."""
    return tuple(ACTIONS[action].scopes)
