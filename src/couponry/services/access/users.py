"""People who sign in to the web pages: accounts (argon2id password hashes) and browser sessions.

A user has a role like an API key's (admin, store with its store id, pos) and acts through the same
services as the API, as the Actor `as_actor` gives: a store user sees and changes only its store's data
because the services already scope a store actor. Storefront is a machine role: no person holds it.

A session is a row keyed by the SHA-256 of a random token; the browser holds the token (signed, in a
cookie: couponry.web.security). Signing out deletes the row; disabling a user ends its sessions at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import users, web_sessions
from couponry.domain.errors import Conflict, InvalidInput, NotFound
from couponry.services.access.actors import Actor, Role
from couponry.services.ids import new_id

PERSON_ROLES = (Role.ADMIN, Role.STORE, Role.POS)
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes any length; a bound keeps a sign-in request's cost bounded
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_hasher = PasswordHasher()  # argon2id with the library's current defaults (RFC 9106 low-memory profile)
_dummy: list[str] = []


def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password
    (made on first use: hashing costs memory and time a process that never signs anyone in need not pay)."""
    if not _dummy:
        _dummy.append(_hasher.hash(secrets.token_urlsafe(16)))
    return _dummy[0]


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    role: Role
    store_id: str | None

    def as_actor(self) -> Actor:
        """The services' view of this person: the same permissions and store scope as a key's. The
        actor id fits the 32 characters of a key id (idempotency keys are stored per actor): "u" and 31
        of the user id's 32 hex digits, which no key id (all hex) can equal."""
        return Actor(key_id=f"u{self.id[:31]}", role=self.role, store_id=self.store_id)


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise InvalidInput("email", "must be an e-mail address")
    return email


def generate_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits


def _user(row: object) -> User:
    return User(id=row.id, email=row.email, role=Role(row.role), store_id=row.store_id)  # type: ignore[attr-defined]


def create_user(
    db: Database, *, email: str, role: str, password: str, store_id: str | None, now: datetime
) -> User:
    email = normalize_email(email)
    try:
        role_ = Role(role)
    except ValueError:
        role_ = None
    if role_ not in PERSON_ROLES:
        raise InvalidInput("role", "must be one of admin, store, pos")
    store_id = (store_id or "").strip() or None
    if (role_ is Role.STORE) != bool(store_id):
        raise InvalidInput("store_id", "a store user needs a store id, and only a store user takes one")
    if store_id is not None and len(store_id) > 100:
        raise InvalidInput("store_id", "at most 100 characters")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput("password", f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    user = User(id=new_id(), email=email, role=role_, store_id=store_id)
    try:
        with db.write() as conn:
            conn.execute(
                insert(users).values(
                    id=user.id,
                    email=email,
                    password_hash=_hasher.hash(password),
                    role=role_.value,
                    store_id=store_id,
                    created_at=now,
                )
            )
    except IntegrityError:
        raise Conflict(f"a user with e-mail {email} exists", code="user_exists") from None
    return user


def set_password(db: Database, email: str, password: str) -> None:
    """Give the user a new password (and enable it again); its open sessions end."""
    email = normalize_email(email)
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput("password", f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    with db.write() as conn:
        user_id = conn.execute(
            update(users)
            .where(users.c.email == email)
            .values(password_hash=_hasher.hash(password), disabled_at=None)
            .returning(users.c.id)
        ).scalar_one_or_none()
        if user_id is None:
            raise NotFound(f"no user {email}")
        conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))


def list_users(db: Database) -> list[dict[str, object]]:
    with db.read() as conn:
        rows = conn.execute(select(users).order_by(users.c.created_at, users.c.id)).all()
    return [
        {
            "id": r.id,
            "email": r.email,
            "role": r.role,
            "store_id": r.store_id,
            "created_at": r.created_at,
            "disabled_at": r.disabled_at,
        }
        for r in rows
    ]


def disable_user(db: Database, user_id: str, now: datetime) -> None:
    """The user can no longer sign in, and its open sessions end now."""
    with db.write() as conn:
        done = conn.execute(
            update(users).where(users.c.id == user_id, users.c.disabled_at.is_(None)).values(disabled_at=now)
        )
        if (
            done.rowcount == 0
            and conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None
        ):
            raise NotFound(f"no user {user_id}")
        conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))


def check_password(db: Database, email: str, password: str) -> User | None:
    """The user whose e-mail and password these are, or None; as slow for an unknown e-mail."""
    try:
        email = normalize_email(email)
    except InvalidInput:
        email = ""
    row = None
    if email and len(password) <= MAX_PASSWORD:
        with db.read() as conn:
            row = conn.execute(select(users).where(users.c.email == email)).first()
    try:
        _hasher.verify(row.password_hash if row is not None else _dummy_hash(), password[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        with db.write() as conn:
            conn.execute(
                update(users).where(users.c.id == row.id).values(password_hash=_hasher.hash(password))
            )
    return _user(row)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Database, user: User, now: datetime, lifetime: timedelta) -> str:
    """A new session for `user`; returns the token for the browser (not stored, only its hash)."""
    token = secrets.token_urlsafe(32)
    with db.write() as conn:
        conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))  # sweep as we go
        conn.execute(
            insert(web_sessions).values(
                id=_digest(token), user_id=user.id, created_at=now, expires_at=now + lifetime
            )
        )
    return token


def session_user(db: Database, token: str, now: datetime) -> User | None:
    """The signed-in user of a session token, or None (unknown, expired, or the user was disabled)."""
    with db.read() as conn:
        row = conn.execute(
            select(users.c.id, users.c.email, users.c.role, users.c.store_id)
            .select_from(web_sessions.join(users, users.c.id == web_sessions.c.user_id))
            .where(
                web_sessions.c.id == _digest(token),
                web_sessions.c.expires_at > now,
                users.c.disabled_at.is_(None),
            )
        ).first()
    return _user(row) if row is not None else None


def end_session(db: Database, token: str) -> None:
    with db.write() as conn:
        conn.execute(delete(web_sessions).where(web_sessions.c.id == _digest(token)))
