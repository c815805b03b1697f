"""Issuing one batch of a publication: claims, personal coupons and their outbox rows, in bulk.

The claim comes first: one row per (campaign, customer) in `published_coupons`, inserted with ON
CONFLICT DO NOTHING, so a customer who already holds a coupon of this campaign from any publication
(committed, or being issued by a concurrent transaction, which the insert waits for) is skipped.
Only the claimed customers get a coupon, a `coupon.issued` event and, when asked, a mail (the same
outbox rows as adapters.db.outbox writes one at a time).

PostgreSQL does the whole batch in one statement: the rows travel as arrays and each step feeds
the next through RETURNING. SQLite, whose writers hold the database lock, inserts with executemany
on the raw connection and reads back what it wrote. A generated code that is already taken elsewhere
(rare: the code space is checked) is drawn again, row by row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

from sqlalchemy import Connection, insert, text, update

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.tables import coupons, outbox, published_coupons
from couponry.domain.codes import CodeConfig, generate, normalize_generated


@dataclass(frozen=True, slots=True)
class IssuedMail:
    """What the `coupon_issued` mail of each coupon says: {code, campaign_id, campaign_name, coupon_url,
    valid_until}; `url(display code, stored code, customer id)` makes each coupon's link."""

    campaign_name: str
    valid_until: str | None
    url: Callable[[str, str, str], str]


@dataclass(frozen=True, slots=True)
class Recipient:
    customer_id: str
    email: str | None
    consents: bool

    @property
    def mailable(self) -> bool:
        return bool(self.email) and self.consents  # delivery checks consent again when it sends


@dataclass(frozen=True, slots=True)
class Issued:
    customer_id: str
    code: str  # as displayed


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
    mail: IssuedMail | None,
) -> list[Issued]:
    """Claim and issue one coupon to each recipient (distinct ids) not yet holding one of this
    campaign's published coupons, with its outbox rows; returns what was issued."""
    if not recipients:
        return []
    drawn = _codes(config, len(recipients))
    batch = _Batch(campaign_id, publication_id, recipients, drawn, now, mail)
    if conn.dialect.name == "postgresql":
        claimed, stored = _postgres(conn, batch)
    else:
        claimed, stored = _sqlite(conn, batch)
    issued = [Issued(cid, batch.display[code]) for cid, code in claimed.items() if code in stored]
    for cid in [cid for cid, code in claimed.items() if code not in stored]:
        issued.append(_redraw(conn, batch, config, cid))
    return issued


@dataclass
class _Batch:
    campaign_id: str
    publication_id: str
    recipients: Sequence[Recipient]
    drawn: list[tuple[str, str]]
    now: datetime
    mail: IssuedMail | None

    def __post_init__(self) -> None:
        self.display = dict(self.drawn)

    def mail_url(self, recipient: Recipient, code: str) -> str | None:
        """The coupon's link when this recipient is mailed, else None."""
        if self.mail is None or not recipient.mailable:
            return None
        return self.mail.url(self.display[code], code, recipient.customer_id)

    def mail_payload(self, display: str, customer_id: str, url: str) -> dict[str, Any]:
        assert self.mail is not None
        return {
            "code": display,
            "campaign_id": self.campaign_id,
            "campaign_name": self.mail.campaign_name,
            "coupon_url": url,
            "valid_until": self.mail.valid_until,
        }

    def event_payload(self, display: str, customer_id: str) -> dict[str, Any]:
        return {"code": display, "campaign_id": self.campaign_id, "customer_id": customer_id}


_POSTGRES_BATCH = text(
    """
WITH input AS (
    SELECT * FROM unnest(CAST(:customer_ids AS text[]), CAST(:codes AS text[]), CAST(:displays AS text[]),
                         CAST(:urls AS text[])) AS t(customer_id, code, display_code, url)
), claimed AS (
    INSERT INTO published_coupons (campaign_id, customer_id, code, publication_id, issued_at)
    SELECT :campaign_id, customer_id, code, :publication_id, :now FROM input ORDER BY customer_id
    ON CONFLICT DO NOTHING
    RETURNING customer_id, code
), stored AS (
    INSERT INTO coupons (code, display_code, campaign_id, customer_id, issued_at, redeemed_count, held_count)
    SELECT i.code, i.display_code, :campaign_id, i.customer_id, :now, 0, 0
    FROM claimed c JOIN input i ON i.customer_id = c.customer_id
    ON CONFLICT DO NOTHING
    RETURNING code, display_code, customer_id
), events AS (
    INSERT INTO outbox (id, kind, type, customer_id, payload, dedupe_key, status, attempts, available_at,
                        created_at)
    SELECT replace(CAST(gen_random_uuid() AS text), '-', ''), 'event', 'coupon.issued', NULL,
           json_build_object('code', s.display_code, 'campaign_id', CAST(:campaign_id AS text),
                             'customer_id', s.customer_id),
           NULL, 'pending', 0, :now, :now
    FROM stored s
), mails AS (
    INSERT INTO outbox (id, kind, type, customer_id, payload, dedupe_key, status, attempts, available_at,
                        created_at)
    SELECT replace(CAST(gen_random_uuid() AS text), '-', ''), 'mail', 'coupon_issued', s.customer_id,
           json_build_object('code', s.display_code, 'campaign_id', CAST(:campaign_id AS text),
                             'campaign_name', CAST(:campaign_name AS text), 'coupon_url', i.url,
                             'valid_until', CAST(:valid_until AS text)),
           'issued:' || s.display_code, 'pending', 0, :now, :now
    FROM stored s JOIN input i ON i.customer_id = s.customer_id
    WHERE i.url IS NOT NULL
    ON CONFLICT DO NOTHING
)
SELECT c.customer_id, c.code, s.code IS NOT NULL AS stored
FROM claimed c LEFT JOIN stored s ON s.customer_id = c.customer_id
"""
)


def _postgres(conn: Connection, batch: _Batch) -> tuple[dict[str, str], set[str]]:
    # the planner's cost guess for this statement is high enough to switch JIT compilation on, which
    # then takes longer (about 1 s, measured with EXPLAIN ANALYZE) than running it: none for this one
    conn.exec_driver_sql("SET LOCAL jit = off")
    rows = conn.execute(
        _POSTGRES_BATCH,
        {
            "customer_ids": [r.customer_id for r in batch.recipients],
            "codes": [code for code, _ in batch.drawn],
            "displays": [display for _, display in batch.drawn],
            "urls": [batch.mail_url(r, c) for r, (c, _) in zip(batch.recipients, batch.drawn, strict=True)],
            "campaign_name": batch.mail.campaign_name if batch.mail else None,
            "valid_until": batch.mail.valid_until if batch.mail else None,
            "campaign_id": batch.campaign_id,
            "publication_id": batch.publication_id,
            "now": batch.now,
        },
    ).all()
    return {r.customer_id: r.code for r in rows}, {r.code for r in rows if r.stored}


def _sqlite(conn: Connection, batch: _Batch) -> tuple[dict[str, str], set[str]]:
    raw = conn.connection.driver_connection
    now = published_coupons.c.issued_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)(
        batch.now
    )
    ids = [r.customer_id for r in batch.recipients]
    codes = [code for code, _ in batch.drawn]
    # the write transaction holds SQLite's lock: what appears in this range for this publication is ours
    changes = raw.total_changes
    raw.executemany(
        "INSERT INTO published_coupons (campaign_id, customer_id, code, publication_id, issued_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        zip(repeat(batch.campaign_id), ids, codes, repeat(batch.publication_id), repeat(now)),
    )
    if raw.total_changes - changes == len(ids):
        claimed = dict(zip(ids, codes, strict=True))
    else:
        claimed = dict(
            raw.execute(
                "SELECT customer_id, code FROM published_coupons WHERE campaign_id = ? "
                "AND publication_id = ? AND customer_id >= ? AND customer_id <= ?",
                (batch.campaign_id, batch.publication_id, min(ids), max(ids)),
            ).fetchall()
        )
    # in code order: B-tree page visits stay local (as in bulk_codes), much faster on SQLite
    chosen = sorted(
        ((r, code, batch.display[code]) for r, code in zip(batch.recipients, codes, strict=True)
         if claimed.get(r.customer_id) == code),
        key=lambda item: item[1],
    )  # fmt: skip
    (last_rowid,) = raw.execute("SELECT coalesce(max(rowid), 0) FROM coupons").fetchone()
    changes = raw.total_changes
    raw.executemany(
        "INSERT INTO coupons (code, display_code, campaign_id, customer_id, issued_at, redeemed_count, "
        "held_count) VALUES (?, ?, ?, ?, ?, 0, 0) ON CONFLICT DO NOTHING",
        ((code, display, batch.campaign_id, r.customer_id, now) for r, code, display in chosen),
    )
    if raw.total_changes - changes == len(chosen):
        stored = {code for _, code, _ in chosen}
    else:
        stored = {c for (c,) in raw.execute("SELECT code FROM coupons WHERE rowid > ?", (last_rowid,))}
    written = [(r, code, display) for r, code, display in chosen if code in stored]
    # ids and JSON are made by SQLite itself, in C; parameters are streamed (generators), not listed, so
    # the garbage collector is not woken by a hundred thousand live tuples
    raw.executemany(
        "INSERT INTO outbox (id, kind, type, customer_id, payload, dedupe_key, status, attempts, "
        "available_at, created_at) VALUES (lower(hex(randomblob(16))), 'event', 'coupon.issued', NULL, "
        "json_object('code', ?, 'campaign_id', ?, 'customer_id', ?), NULL, 'pending', 0, ?, ?)",
        ((display, batch.campaign_id, r.customer_id, now, now) for r, _, display in written),
    )
    if batch.mail is not None:
        raw.executemany(
            "INSERT INTO outbox (id, kind, type, customer_id, payload, dedupe_key, status, attempts, "
            "available_at, created_at) VALUES (lower(hex(randomblob(16))), 'mail', 'coupon_issued', ?, "
            "json_object('code', ?, 'campaign_id', ?, 'campaign_name', ?, 'coupon_url', ?, "
            "'valid_until', ?), "
            "'issued:' || ?, 'pending', 0, ?, ?) ON CONFLICT DO NOTHING",
            (
                (r.customer_id, display, batch.campaign_id, batch.mail.campaign_name, url,
                 batch.mail.valid_until, display, now, now)
                for r, code, display in written
                if (url := batch.mail_url(r, code)) is not None
            ),
        )  # fmt: skip
    return claimed, stored


def _redraw(conn: Connection, batch: _Batch, config: CodeConfig, customer_id: str) -> Issued:
    """A claimed customer whose drawn code exists elsewhere: new codes until one is free."""
    recipient = next(r for r in batch.recipients if r.customer_id == customer_id)
    while True:
        ((code, display),) = _codes(config, 1)
        row = {"code": code, "display_code": display, "campaign_id": batch.campaign_id,
               "customer_id": customer_id, "issued_at": batch.now}  # fmt: skip
        if insert_ignoring_conflicts(conn, coupons, row):
            break
    conn.execute(
        update(published_coupons)
        .where(
            published_coupons.c.campaign_id == batch.campaign_id,
            published_coupons.c.customer_id == customer_id,
        )
        .values(code=code)
    )
    batch.display[code] = display
    base = {"status": "pending", "attempts": 0, "available_at": batch.now, "created_at": batch.now}
    rows = [
        {
            **base,
            "id": uuid.uuid4().hex,
            "kind": "event",
            "type": "coupon.issued",
            "customer_id": None,
            "payload": batch.event_payload(display, customer_id),
            "dedupe_key": None,
        }
    ]
    if (url := batch.mail_url(recipient, code)) is not None:
        rows.append(
            {
                **base,
                "id": uuid.uuid4().hex,
                "kind": "mail",
                "type": "coupon_issued",
                "customer_id": customer_id,
                "payload": batch.mail_payload(display, customer_id, url),
                "dedupe_key": f"issued:{display}",
            }
        )
    conn.execute(insert(outbox), rows)
    return Issued(customer_id, display)
