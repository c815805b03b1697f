"""People who sign in: argon2 password hashes, sessions that end when signed out, expired or the user
is disabled, and the rules on roles and stores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import users
from couponry.domain.errors import Conflict, InvalidInput
from couponry.services.access.actors import Role
from couponry.services.access.users import (
    check_password,
    create_user,
    disable_user,
    end_session,
    session_user,
    set_password,
    start_session,
)
from couponry.services.ids import utcnow

PASSWORD = "correct horse battery"


def test_a_password_is_stored_as_an_argon2id_hash_and_checked_case_insensitively_by_email(
    db: Database,
) -> None:
    user = create_user(
        db, email=" Ann@Example.COM ", role="admin", password=PASSWORD, store_id=None, now=utcnow()
    )
    with db.read() as conn:
        stored = conn.execute(select(users.c.email, users.c.password_hash)).one()
    assert stored.email == "ann@example.com" and stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert check_password(db, "ANN@example.com", PASSWORD) == user
    assert check_password(db, "ann@example.com", PASSWORD + "x") is None
    assert check_password(db, "nobody@example.com", PASSWORD) is None


def test_a_store_user_acts_as_its_store_and_only_store_users_have_one(db: Database) -> None:
    user = create_user(
        db, email="s@example.com", role="store", password=PASSWORD, store_id="s1", now=utcnow()
    )
    actor = user.as_actor()
    assert (
        actor.role is Role.STORE
        and actor.store_scope == "s1"
        and actor.key_id == f"u{user.id[:31]}"
        and len(actor.key_id) <= 32
    )
    with pytest.raises(InvalidInput, match="store_id"):
        create_user(db, email="t@example.com", role="store", password=PASSWORD, store_id=None, now=utcnow())
    with pytest.raises(InvalidInput, match="store_id"):
        create_user(db, email="u@example.com", role="pos", password=PASSWORD, store_id="s1", now=utcnow())
    with pytest.raises(InvalidInput, match="role"):
        create_user(
            db, email="v@example.com", role="storefront", password=PASSWORD, store_id=None, now=utcnow()
        )
    with pytest.raises(InvalidInput, match="password"):
        create_user(db, email="w@example.com", role="pos", password="short", store_id=None, now=utcnow())
    with pytest.raises(Conflict):
        create_user(db, email="S@example.com", role="admin", password=PASSWORD, store_id=None, now=utcnow())


def test_a_session_ends_when_signed_out_when_it_expires_and_when_the_user_is_disabled(db: Database) -> None:
    now = utcnow()
    user = create_user(db, email="x@example.com", role="admin", password=PASSWORD, store_id=None, now=now)
    token = start_session(db, user, now, timedelta(hours=1))
    assert session_user(db, token, now) == user
    assert session_user(db, token, now + timedelta(hours=1)) is None  # expired
    assert session_user(db, token + "x", now) is None
    end_session(db, token)
    assert session_user(db, token, now) is None

    again = start_session(db, user, now, timedelta(hours=1))
    disable_user(db, user.id, now)
    assert session_user(db, again, now) is None
    assert check_password(db, "x@example.com", PASSWORD) is None  # disabled users cannot sign in
    set_password(db, "x@example.com", "a new password")  # ... until given a new password
    assert check_password(db, "x@example.com", "a new password") == user
