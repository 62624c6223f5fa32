"""Organisations, users and API tokens: the service functions behind ``clinval org|user|token|whoami``.

Every function takes the platform and the calling :class:`~validation.identity.Principal`, asks the policy, does
the change and appends the audit event in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from validation.audit.log import append_event
from validation.exceptions import AuthenticationError, Conflict, InvalidInput, NotFound
from validation.identity import (
    SYSTEM,
    OrgKind,
    Principal,
    Role,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from validation.platform import Platform
from validation.policy import Resource, decide, enforce
from validation.schema import ApiToken, IdentityLink, Organisation, User

__all__ = [
    "OrgInfo",
    "UserInfo",
    "TokenInfo",
    "create_org",
    "list_orgs",
    "create_user",
    "list_users",
    "deactivate_user",
    "create_token",
    "list_tokens",
    "revoke_token",
    "authenticate",
    "login",
    "whoami",
    "IdentityLinkInfo",
    "link_identity",
    "unlink_identity",
    "list_identity_links",
    "login_oidc",
]

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{1,63}$")
MAX_TOKEN_DAYS = 3650


@dataclass(frozen=True, slots=True, kw_only=True)
class OrgInfo:
    code: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UserInfo:
    id: str
    username: str
    printed_name: str
    role: str
    org: str
    active: bool
    has_password: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenInfo:
    id: int
    username: str
    label: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and datetime.fromisoformat(self.expires_at) <= datetime.now(UTC):
            return "expired"
        return "active"


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive datetimes; we only ever store UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds")


def _user_id(user: User) -> str:
    return f"u{user.id}"


def _principal(user: User) -> Principal:
    return Principal(
        user_id=_user_id(user),
        username=user.username,
        printed_name=user.printed_name,
        role=Role(user.role),
        org=user.organisation.code,
        org_kind=OrgKind(user.organisation.kind),
    )


def _user_info(user: User) -> UserInfo:
    return UserInfo(
        id=_user_id(user),
        username=user.username,
        printed_name=user.printed_name,
        role=user.role,
        org=user.organisation.code,
        active=user.active,
        has_password=user.password_hash is not None,
    )


def _token_info(token: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=token.id,
        username=token.user.username,
        label=token.label,
        created_at=_iso(token.created_at) or "",
        expires_at=_iso(token.expires_at),
        revoked_at=_iso(token.revoked_at),
    )


def _parse_kind(kind: str | OrgKind) -> OrgKind:
    try:
        return OrgKind(kind)
    except ValueError:
        raise InvalidInput(
            f"unknown organisation kind {kind!r}", hint=f"use one of {', '.join(k.value for k in OrgKind)}"
        ) from None


def _check_printable(label: str, value: str, limit: int = 200) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit or any(ord(c) < 32 for c in value):
        raise InvalidInput(f"{label} must be 1 to {limit} printable characters", hint=f"check the {label} given")
    return value


def create_org(
    platform: Platform, principal: Principal, code: str, name: str, kind: str | OrgKind
) -> OrgInfo:
    """Add an organisation (admin).

    Raises
    ------
    InvalidInput
        Bad code, name or kind.
    Conflict
        The code is taken.
    """
    enforce(platform.db, principal, "org.create", Resource(kind="organisation", id=str(code)))
    if not isinstance(code, str) or not _CODE.match(code):
        raise InvalidInput(
            f"organisation code {code!r} is not valid",
            hint="use letters, digits, '-', '_' or '.', up to 64 characters, starting with a letter or digit",
        )
    name = _check_printable("organisation name", name)
    kind = _parse_kind(kind)
    try:
        with platform.db.write() as session:
            if session.scalar(select(Organisation).where(Organisation.code == code)) is not None:
                raise Conflict(f"organisation {code!r} already exists", hint="'clinval org list' shows them")
            session.add(Organisation(code=code, name=name, kind=kind.value, created_at=_now()))
            append_event(session, principal, "org.create", "organisation", code, details={"kind": kind.value})
    except IntegrityError:
        raise Conflict(f"organisation {code!r} already exists", hint="'clinval org list' shows them") from None
    return OrgInfo(code=code, name=name, kind=kind.value)


def list_orgs(platform: Platform, principal: Principal) -> list[OrgInfo]:
    """Organisations the caller may see (all for admin and regulator, its own for others)."""
    enforce(platform.db, principal, "platform.whoami")
    with platform.db.read() as session:
        orgs = session.scalars(select(Organisation).order_by(Organisation.kind, Organisation.code)).all()
        return [
            OrgInfo(code=o.code, name=o.name, kind=o.kind)
            for o in orgs
            if decide(principal, "org.read", Resource(kind="organisation", id=o.code, org=o.code)).allowed
        ]


def _get_org(session, code: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.code == code))
    if org is None:
        raise NotFound(f"no organisation {code!r}", hint="'clinval org list' shows the codes")
    return org


def _get_user(session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}", hint="'clinval user list' shows the users")
    return user


def create_user(
    platform: Platform,
    principal: Principal,
    *,
    username: str,
    printed_name: str,
    role: str | Role,
    org: str,
    password: str | None = None,
) -> UserInfo:
    """Add a user (admin). The role must fit the organisation's kind (reviewers belong to hospitals, ...).

    Parameters
    ----------
    password : str, optional
        For the dashboards and e-signatures (scrypt-hashed); a user without one can use API tokens only.
    """
    enforce(platform.db, principal, "user.create", Resource(kind="user", id=str(username)))
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise InvalidInput(
            f"username {username!r} is not valid",
            hint="use 2-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    printed_name = _check_printable("printed name", printed_name)
    try:
        role = Role(role)
    except ValueError:
        raise InvalidInput(f"unknown role {role!r}", hint=f"use one of {', '.join(r.value for r in Role)}") from None
    password_hash = hash_password(password) if password is not None else None
    try:
        with platform.db.write() as session:
            organisation = _get_org(session, org)
            expected = OrgKind(organisation.kind).role
            if role is not expected:
                raise InvalidInput(
                    f"a {role.value} cannot belong to {organisation.kind} organisation {org!r}",
                    hint=f"users of a {organisation.kind} organisation are {expected.value}s",
                )
            if session.scalar(select(User).where(User.username == username)) is not None:
                raise Conflict(f"user {username!r} already exists", hint="choose another username")
            user = User(
                username=username,
                printed_name=printed_name,
                role=role.value,
                organisation=organisation,
                password_hash=password_hash,
                active=True,
                created_at=_now(),
            )
            session.add(user)
            session.flush()
            append_event(
                session, principal, "user.create", "user", _user_id(user), details={"role": role.value, "org": org}
            )
            return _user_info(user)
    except IntegrityError:
        raise Conflict(f"user {username!r} already exists", hint="choose another username") from None


def list_users(platform: Platform, principal: Principal) -> list[UserInfo]:
    """Users the caller may see (all for admin and regulator, itself for others)."""
    enforce(platform.db, principal, "platform.whoami")
    with platform.db.read() as session:
        users = session.scalars(select(User).order_by(User.id)).all()
        return [
            _user_info(u)
            for u in users
            if decide(principal, "user.read", Resource(kind="user", id=_user_id(u), user_id=_user_id(u))).allowed
        ]


def deactivate_user(platform: Platform, principal: Principal, username: str) -> UserInfo:
    """Deactivate a user (admin); its tokens stop working at once."""
    enforce(platform.db, principal, "user.deactivate", Resource(kind="user", id=str(username)))
    with platform.db.write() as session:
        user = _get_user(session, username)
        user.active = False
        append_event(session, principal, "user.deactivate", "user", _user_id(user))
        return _user_info(user)


def create_token(
    platform: Platform,
    principal: Principal,
    *,
    username: str,
    expires_days: int | None = 90,
    label: str = "",
) -> tuple[str, TokenInfo]:
    """Create an API token for ``username`` (admin for anyone; a user for itself).

    Returns
    -------
    (str, TokenInfo)
        The token, shown once and never stored, and its record.
    """
    if expires_days is not None and (not isinstance(expires_days, int) or not 1 <= expires_days <= MAX_TOKEN_DAYS):
        raise InvalidInput(
            f"--expires-days must be between 1 and {MAX_TOKEN_DAYS}, got {expires_days!r}",
            hint="tokens always expire; ask for a new one when it does",
        )
    label = (label or "").strip()[:100]
    with platform.db.read() as session:
        found = session.scalar(select(User).where(User.username == username))
        target_id = _user_id(found) if found else "-"
    enforce(platform.db, principal, "token.create", Resource(kind="user", id=target_id, user_id=target_id))
    token = new_token()
    now = _now()
    with platform.db.write() as session:
        user = _get_user(session, username)
        if not user.active:
            raise Conflict(f"user {username!r} is deactivated", hint="an admin must reactivate the account first")
        record = ApiToken(
            user=user,
            token_sha256=token_digest(token),
            label=label,
            created_at=now,
            expires_at=now + timedelta(days=expires_days) if expires_days else None,
        )
        session.add(record)
        session.flush()
        append_event(
            session,
            principal,
            "token.create",
            "token",
            str(record.id),
            details={"user": _user_id(user), "expires_days": expires_days},
        )
        return token, _token_info(record)


def list_tokens(platform: Platform, principal: Principal, username: str | None = None) -> list[TokenInfo]:
    """Tokens (never their values) of ``username``, or of every user the caller may see."""
    with platform.db.read() as session:
        query = select(ApiToken).order_by(ApiToken.id)
        if username is not None:
            query = query.join(User).where(User.username == username)
        tokens = session.scalars(query).all()
        out = []
        for t in tokens:
            uid = _user_id(t.user)
            if decide(principal, "token.read", Resource(kind="token", id=str(t.id), user_id=uid)).allowed:
                out.append(_token_info(t))
        return out


def revoke_token(platform: Platform, principal: Principal, token_id: int) -> TokenInfo:
    """Revoke a token at once (admin for any; a user for its own)."""
    with platform.db.read() as session:
        token = session.get(ApiToken, token_id)
        owner = _user_id(token.user) if token else None
    enforce(platform.db, principal, "token.revoke", Resource(kind="token", id=str(token_id), user_id=owner))
    with platform.db.write() as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise NotFound(f"no token with id {token_id}", hint="'clinval token list' shows token ids")
        if token.revoked_at is None:
            token.revoked_at = _now()
            append_event(session, principal, "token.revoke", "token", str(token_id))
        return _token_info(token)


def _refuse(platform: Platform, why: str, object_type: str, object_id: str) -> None:
    with platform.db.write() as session:
        append_event(session, SYSTEM, "auth.refused", object_type, object_id, details={"why": why})


def authenticate(platform: Platform, token: str) -> Principal:
    """The principal holding ``token``.

    Raises
    ------
    AuthenticationError
        Unknown, revoked or expired token, or deactivated user; the refusal is an audit event
        (with the token's id when known, never the token).
    """
    digest = token_digest(token or "")
    with platform.db.read() as session:
        record = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
        if record is None:
            problem, object_id = "unknown token", "-"
        elif record.revoked_at is not None:
            problem, object_id = "revoked token", str(record.id)
        elif record.expires_at is not None and _iso(record.expires_at) <= _iso(_now()):
            problem, object_id = "expired token", str(record.id)
        elif not record.user.active:
            problem, object_id = "deactivated user", str(record.id)
        else:
            return _principal(record.user)
    _refuse(platform, problem, "token", object_id)
    raise AuthenticationError(
        f"authentication refused: {problem}", hint="ask the pilot-base admin for a new token"
    )


def login(platform: Platform, username: str, password: str) -> Principal:
    """Check a username and password (dashboard login and e-signature re-entry).

    Raises
    ------
    AuthenticationError
        Wrong username or password (one message for both), or a deactivated user; recorded in the audit log.
    """
    with platform.db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is not None and user.active and verify_password(password, user.password_hash):
            return _principal(user)
        object_id = _user_id(user) if user else "-"
    _refuse(platform, "wrong username or password", "user", object_id)
    raise AuthenticationError("wrong username or password", hint="check both and try again")


def whoami(platform: Platform, principal: Principal) -> dict[str, str]:
    """The caller as the platform sees it."""
    enforce(platform.db, principal, "platform.whoami")
    return {
        "user_id": principal.user_id,
        "username": principal.username,
        "printed_name": principal.printed_name,
        "role": principal.role.value,
        "org": principal.org,
        "org_kind": principal.org_kind.value,
    }


# ---- single sign-on (OpenID Connect) identities ----------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,255}$")  # RFC 5321 lengths: at most 320


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityLinkInfo:
    """A single sign-on identity linked to a user: ``kind`` ``sub`` (issuer + subject) or ``email`` (verified
    address)."""

    id: int
    username: str
    kind: str
    issuer: str
    value: str
    created_at: str


def _link_info(link: IdentityLink) -> IdentityLinkInfo:
    return IdentityLinkInfo(id=link.id, username=link.user.username, kind=link.kind, issuer=link.issuer,
                            value=link.value, created_at=_iso(link.created_at))


def _identity(issuer: str | None, subject: str | None, email: str | None) -> tuple[str, str, str]:
    if (subject is None) == (email is None):
        raise InvalidInput("give either an issuer and a subject, or an e-mail address",
                           hint="--issuer URL --subject ID, or --email ADDRESS")
    if subject is not None:
        if not (issuer or "").strip() or not subject.strip():
            raise InvalidInput("a subject is unique only within its issuer: give both", hint="--issuer URL --subject ID")
        issuer = _check_printable("issuer", issuer.strip(), 300)
        subject = _check_printable("subject", subject.strip(), 320)
        return "sub", issuer, subject
    if issuer is not None:
        raise InvalidInput("an e-mail link matches the verified address from any configured provider: give no issuer",
                           hint="--email ADDRESS alone, or --issuer URL --subject ID")
    address = email.strip().lower()
    if not _EMAIL.match(address):
        raise InvalidInput("that is not an e-mail address", hint="like name@hospital.example")
    return "email", "", address


def link_identity(platform: Platform, principal: Principal, username: str, *, issuer: str | None = None,
                  subject: str | None = None, email: str | None = None) -> IdentityLinkInfo:
    """Link a single sign-on identity to a user (admin): the identity provider's ``issuer`` and ``subject`` (the
    ``iss`` and ``sub`` claims), or an e-mail address that the provider must report as verified.

    Raises
    ------
    InvalidInput
        Neither or both kinds of identity, or malformed values.
    NotFound
        No such user.
    Conflict
        The identity is already linked (to this or another user).
    """
    enforce(platform.db, principal, "user.link_identity", Resource(kind="user", id=str(username)))
    kind, iss, value = _identity(issuer, subject, email)
    try:
        with platform.db.write() as session:
            user = _get_user(session, username)
            link = IdentityLink(user_id=user.id, kind=kind, issuer=iss, value=value, created_at=_now())
            session.add(link)
            session.flush()
            # The identity itself is staff contact data: the event names the link and its kind, never the value
            # (nor an unsalted digest of it, which would confirm a guessed address).
            append_event(session, principal, "user.link_identity", "user", _user_id(user),
                         details={"link": link.id, "kind": kind})
            return _link_info(link)
    except IntegrityError:
        raise Conflict("that single sign-on identity is already linked to a user",
                       hint="unlink it first (clinval user unlink LINK_ID)") from None


def unlink_identity(platform: Platform, principal: Principal, link_id: int) -> IdentityLinkInfo:
    """Remove a link (admin); the identity can no longer sign in."""
    enforce(platform.db, principal, "user.link_identity", Resource(kind="user", id=f"link-{link_id}"))
    with platform.db.write() as session:
        link = session.get(IdentityLink, link_id)
        if link is None:
            raise NotFound(f"no identity link {link_id}", hint="clinval user links lists them")
        info = _link_info(link)
        append_event(session, principal, "user.unlink_identity", "user", _user_id(link.user),
                     details={"link": link.id, "kind": link.kind})
        session.delete(link)
        return info


def list_identity_links(platform: Platform, principal: Principal, username: str | None = None
                        ) -> list[IdentityLinkInfo]:
    """The identity links (admin), optionally of one user."""
    enforce(platform.db, principal, "user.link_identity", Resource(kind="user", id=str(username or "*")))
    with platform.db.read() as session:
        query = select(IdentityLink).order_by(IdentityLink.id)
        links = [_link_info(link) for link in session.scalars(query)]
    return [link for link in links if username is None or link.username == username]


def login_oidc(platform: Platform, *, issuer: str | None, subject: str | None, email: str | None = None,
               email_verified: bool = False) -> Principal:
    """The user an admin linked to this single sign-on identity (claims ``iss``, ``sub``, ``email``,
    ``email_verified`` of an ID token the dashboard's OIDC client has already verified).

    The subject is matched together with its issuer; an e-mail only when the provider says it is verified.

    Raises
    ------
    AuthenticationError
        No link, or the linked user is deactivated; recorded in the audit log (without the identity).
    """
    issuer, subject, email = (v if isinstance(v, str) else None for v in (issuer, subject, email))
    with platform.db.read() as session:
        link = None
        if issuer and subject:
            link = session.scalar(select(IdentityLink).where(IdentityLink.kind == "sub", IdentityLink.issuer == issuer,
                                                             IdentityLink.value == subject))
        if link is None and email and email_verified is True:
            link = session.scalar(select(IdentityLink).where(IdentityLink.kind == "email", IdentityLink.issuer == "",
                                                             IdentityLink.value == email.strip().lower()))
        if link is not None and link.user.active:
            return _principal(link.user)
        problem = "deactivated user" if link is not None else "single sign-on identity not linked"
        object_id = _user_id(link.user) if link is not None else "-"
    _refuse(platform, problem, "user", object_id)
    raise AuthenticationError(f"sign-in refused: {problem}",
                              hint="ask the pilot-base admin to link your identity to your account")

