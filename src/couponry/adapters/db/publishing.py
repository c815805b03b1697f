"""Issuing one batch of a publication's personal coupons, many rows per statement.

The claim comes first: one row per (campaign, customer) in `published_coupons`, inserted with ON
CONFLICT DO NOTHING, so a customer who already holds a coupon of this campaign from any publication
(committed, or being issued by a concurrent transaction, which the insert waits for) is skipped.
Only the claimed customers then get a coupon; a generated code that is already taken somewhere
(rare: the code space is checked) is drawn again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite

from couponry.adapters.db.tables import coupons, outbox, published_coupons
from couponry.domain.codes import CodeConfig, generate, normalize_generated


@dataclass(frozen=True, slots=True)
class Recipient:
    customer_id: str
    email: str | None
    consents: bool


@dataclass(frozen=True, slots=True)
class Issued:
    customer_id: str
    code: str  # as displayed
    recipient: Recipient


def _insert(conn: Connection, table: Any):  # noqa: ANN202
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


def _codes(config: CodeConfig, n: int) -> list[tuple[str, str]]:
    """(stored, display) pairs for `n` fresh codes, no two alike."""
    out: dict[str, str] = {}
    while len(out) < n:
        for display in generate(config, n - len(out)):
            out.setdefault(normalize_generated(display), display)
    return list(out.items())


def issue_batch(
    conn: Connection,
    *,
    campaign_id: str,
    publication_id: str,
    config: CodeConfig,
    recipients: Sequence[Recipient],
    now: datetime,
) -> list[Issued]:
    """Claim and issue one coupon to each recipient not yet holding one of this campaign's published
    coupons; returns what was issued (the outbox rows are the caller's)."""
    if not recipients:
        return []
    by_id = {r.customer_id: r for r in recipients}
    drawn = _codes(config, len(by_id))
    display_of = dict(drawn)
    claims = [
        {
            "campaign_id": campaign_id,
            "customer_id": customer_id,
            "code": code,
            "publication_id": publication_id,
            "issued_at": now,
        }
        for customer_id, (code, _) in zip(by_id, drawn, strict=True)
    ]
    stmt = _insert(conn, published_coupons).returning(
        published_coupons.c.customer_id, published_coupons.c.code
    )
    claimed = dict(conn.execute(stmt, claims).all())
    pending = dict(claimed)  # customer -> stored code still to be written to coupons
    while pending:
        rows = [
            {
                "code": code,
                "display_code": display_of[code],
                "campaign_id": campaign_id,
                "customer_id": customer_id,
                "issued_at": now,
            }
            for customer_id, code in pending.items()
        ]
        stored = set(conn.execute(_insert(conn, coupons).returning(coupons.c.code), rows).scalars())
        taken = [customer_id for customer_id, code in pending.items() if code not in stored]
        if not taken:
            break
        # draw again for the codes that exist elsewhere, and record the new ones on the claims
        redrawn = _codes(config, len(taken))
        display_of.update(redrawn)
        pending = {customer_id: code for customer_id, (code, _) in zip(taken, redrawn, strict=True)}
        conn.execute(
            update(published_coupons)
            .where(
                published_coupons.c.campaign_id == campaign_id,
                published_coupons.c.customer_id == bindparam("cid"),
            )
            .values(code=bindparam("new_code")),
            [{"cid": cid, "new_code": code} for cid, code in pending.items()],
        )
        claimed.update(pending)
    return [Issued(cid, display_of[code], by_id[cid]) for cid, code in claimed.items()]


def enqueue_many(
    conn: Connection,
    kind: str,
    type_: str,
    items: Sequence[tuple[str | None, dict[str, Any], str | None]],
    now: datetime,
) -> None:
    """Outbox rows (the same rows as adapters.db.outbox.enqueue_event / enqueue_mail write one at a
    time), many per statement: (customer_id, payload, dedupe_key) each."""
    if not items:
        return
    rows = [
        {
            "id": uuid.uuid4().hex,
            "kind": kind,
            "type": type_,
            "customer_id": customer_id,
            "payload": payload,
            "dedupe_key": dedupe_key,
            "status": "pending",
            "attempts": 0,
            "available_at": now,
            "created_at": now,
        }
        for customer_id, payload, dedupe_key in items
    ]
    conn.execute(_insert(conn, outbox), rows)
