"""Issuing codes (vanity or generated), looking a coupon up, listing a campaign's codes."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from couponry.adapters.db.campaign_usage import count_coupon_redemptions
from couponry.adapters.db.engine import Database
from couponry.adapters.db.snapshots import safe_normalize
from couponry.adapters.db.tables import campaigns, coupons
from couponry.adapters.db.variants import assign_variants
from couponry.domain.codes import CodeConfig, check_code_space, display_form, generate, normalize
from couponry.domain.errors import CodeTaken, InvalidInput, NotFound
from couponry.services.access.actors import Actor, Permission, Role
from couponry.services.campaigns.campaigns import load_visible
from couponry.services.jobs import jobs
from couponry.services.messaging import events

SYNC_LIMIT = 1000


def _insert_returning(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = module.insert(coupons).on_conflict_do_nothing().returning(coupons.c.code)
    return set(conn.execute(stmt, rows).scalars()) if rows else set()


def issue_codes(
    db: Database,
    actor: Actor,
    campaign_id: str,
    *,
    codes: Sequence[str] | None,
    count: int | None,
    customer_id: str | None,
    now: datetime,
) -> tuple[int, dict[str, Any]]:
    """201 {"codes": [...]} for vanity codes or up to 1,000 generated ones; 202 {job} beyond that."""
    actor.require(Permission.MANAGE_CAMPAIGNS)
    if (codes is None) == (count is None):
        raise InvalidInput("codes", "give either codes or count")
    with db.write() as conn:
        campaign = load_visible(conn, actor, campaign_id)
        assign_variants(conn, campaign_id, [customer_id], now, campaign.definition)  # A/B: sticky arm
        base = {"campaign_id": campaign_id, "customer_id": customer_id, "issued_at": now}
        if codes is not None:
            issued_vanity = _issue_vanity(conn, actor, codes, base)
            if customer_id:
                events.coupons_issued(conn, campaign_id, customer_id, issued_vanity, now)
            return 201, {"codes": issued_vanity}
        assert count is not None
        if count < 1:
            raise InvalidInput("count", "must be at least 1")
        config = CodeConfig.from_dict(campaign.definition.get("code_config"))
        check_code_space(config, count)
        if count > SYNC_LIMIT:
            job = jobs.enqueue(
                conn,
                "generate_codes",
                {"campaign_id": campaign_id, "count": count, "customer_id": customer_id},
                total=count,
                now=now,
            )
            return 202, job
        issued: list[str] = []
        while len(issued) < count:
            wanted = {normalize(c): c for c in generate(config, count - len(issued))}
            stored = _insert_returning(
                conn, [{"code": k, "display_code": v, **base} for k, v in wanted.items()]
            )
            issued.extend(wanted[k] for k in wanted if k in stored)
        if customer_id:
            events.coupons_issued(conn, campaign_id, customer_id, issued, now)
        return 201, {"codes": issued}


def _issue_vanity(conn: Connection, actor: Actor, codes: Sequence[str], base: dict[str, Any]) -> list[str]:
    """All the codes, or none: CodeTaken when any exists already. The refusal names only the taken
    codes this key may see (an admin: all; a store key: its own store's) and counts the others, so
    issuing cannot be used to learn which codes exist elsewhere."""
    if not codes:
        raise InvalidInput("codes", "must not be empty")
    rows: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(codes):
        try:
            key = normalize(raw)
        except InvalidInput as exc:
            raise InvalidInput(f"codes[{i}]", exc.detail.split(": ", 1)[-1]) from None
        if key in rows:
            raise InvalidInput(f"codes[{i}]", f"{raw!r} is given twice (codes ignore case and separators)")
        rows[key] = {"code": key, "display_code": display_form(raw), **base}
    stored = _insert_returning(conn, list(rows.values()))
    taken = [k for k in rows if k not in stored]
    if taken:
        visible = _visible_codes(conn, actor, taken)
        named = [rows[k]["display_code"] for k in taken if k in visible]
        hidden = len(taken) - len(named)
        detail = f"{len(taken)} of these codes already exist"
        if named:
            detail += ": " + ", ".join(repr(c) for c in named[:10]) + (" ..." if len(named) > 10 else "")
        if hidden:
            detail += f" ({hidden} of them not visible to this key)"
        raise CodeTaken(detail, codes=named, taken=len(taken))
    return [r["display_code"] for r in rows.values()]


def _visible_codes(conn: Connection, actor: Actor, keys: Sequence[str]) -> set[str]:
    """Which of these stored codes `actor` may see: every one for an admin, its store's for a store key."""
    if actor.role is Role.ADMIN:
        return set(keys)
    if actor.store_scope is None:
        return set()
    return set(
        conn.execute(
            select(coupons.c.code)
            .join(campaigns, campaigns.c.id == coupons.c.campaign_id)
            .where(coupons.c.code.in_(keys), campaigns.c.store_id == actor.store_scope)
        ).scalars()
    )


def coupon_status(row: Any, now: datetime) -> tuple[str, datetime | None, datetime | None]:
    """(status, starts_at, effective ends_at) of a coupon joined with its campaign."""
    validity = row.definition.get("validity") or {}
    starts = datetime.fromisoformat(validity["starts_at"]) if validity.get("starts_at") else None
    ends = datetime.fromisoformat(validity["ends_at"]) if validity.get("ends_at") else None
    if validity.get("days_after_issue"):
        personal_end = row.issued_at + timedelta(days=validity["days_after_issue"])
        ends = min(ends, personal_end) if ends else personal_end
    if row.campaign_status != "active":
        status = "inactive"
    elif starts and now < starts:
        status = "not_started"
    elif ends and now >= ends:
        status = "expired"
    elif row.per_coupon is not None and row.redeemed_count + row.held_count >= row.per_coupon:
        status = "used_up"
    else:
        status = "active"
    return status, starts, ends


_COUPON_COLUMNS = (
    coupons,
    campaigns.c.definition,
    campaigns.c.status.label("campaign_status"),
    campaigns.c.per_coupon,
    campaigns.c.store_id,
)


def coupon_bodies(conn: Connection, rows: Sequence[Any], now: datetime) -> list[dict[str, Any]]:
    """A coupon's uses are counted on its row only under a per-coupon limit (adapters.db.usage); the
    others' come from their redemptions, in one query for the page."""
    counted = count_coupon_redemptions(conn, [r.code for r in rows if r.per_coupon is None])
    return [coupon_body(r, now, counted.get(r.code, r.redeemed_count)) for r in rows]


def coupon_body(row: Any, now: datetime, redeemed_count: int) -> dict[str, Any]:
    status, starts, ends = coupon_status(row, now)
    return {
        "code": row.display_code,
        "campaign_id": row.campaign_id,
        "customer_id": row.customer_id,
        "redeemed_count": redeemed_count,
        "status": status,
        "issued_at": row.issued_at,
        "validity": {"starts_at": starts, "ends_at": ends},
    }


def get_coupon(db: Database, actor: Actor, code: str, now: datetime) -> dict[str, Any]:
    """The coupon, for any key that may read coupons; a store key reads its own store's coupons and
    platform ones (which it may redeem too), and gets 403 for another store's."""
    actor.require(Permission.READ_COUPONS)
    key = safe_normalize(code)
    with db.read() as conn:
        row = None
        if key:
            row = conn.execute(
                select(*_COUPON_COLUMNS)
                .join(campaigns, campaigns.c.id == coupons.c.campaign_id)
                .where(coupons.c.code == key)
            ).first()
        if row is None:
            raise NotFound("no coupon has this code", code="unknown_code")
        if row.store_id is not None:
            actor.require_store_access(row.store_id)
        return coupon_bodies(conn, [row], now)[0]


def list_coupons(
    db: Database, actor: Actor, campaign_id: str, *, limit: int, cursor: str | None, now: datetime
) -> tuple[list[dict[str, Any]], str | None]:
    """Keyset pages in code order: stable and cheap however many millions of codes there are."""
    actor.require(Permission.MANAGE_CAMPAIGNS)
    with db.read() as conn:
        load_visible(conn, actor, campaign_id)
        query = (
            select(*_COUPON_COLUMNS)
            .join(campaigns, campaigns.c.id == coupons.c.campaign_id)
            .where(coupons.c.campaign_id == campaign_id)
            .order_by(coupons.c.code)
            .limit(limit + 1)
        )
        if cursor:
            query = query.where(coupons.c.code > cursor)
        rows = conn.execute(query).all()
        next_cursor = rows[limit - 1].code if len(rows) > limit else None
        return coupon_bodies(conn, rows[:limit], now), next_cursor


WALLET_SCAN_FACTOR = 10


def wallet(
    db: Database,
    actor: Actor,
    customer_id: str,
    now: datetime,
    *,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The customer's own coupons that can still be used (or will be, once their window opens), newest
    first, keyset-paged on (issued_at, code).

    A page reads at most WALLET_SCAN_FACTOR x `limit` coupons: a customer may hold millions of expired
    ones (bulk-issued personal codes), and reading them all in one request took over 10 s of CPU and
    starved every other request of the process. Such a page may hold fewer than `limit` items; a
    `next_cursor` that is not null means there may be more.
    """
    actor.require(Permission.WALLET)
    usable = (coupons.c.customer_id == customer_id) & (campaigns.c.status == "active")
    usable &= campaigns.c.per_coupon.is_(None) | (
        coupons.c.redeemed_count + coupons.c.held_count < campaigns.c.per_coupon
    )
    query = (
        select(*_COUPON_COLUMNS)
        .join(campaigns, campaigns.c.id == coupons.c.campaign_id)
        .where(usable)
        .order_by(coupons.c.issued_at.desc(), coupons.c.code.desc())
        .limit(limit * WALLET_SCAN_FACTOR + 1)
    )
    if cursor:
        issued_at, code = _decode_wallet_cursor(cursor)
        query = query.where(
            (coupons.c.issued_at < issued_at) | ((coupons.c.issued_at == issued_at) & (coupons.c.code < code))
        )
    with db.read() as conn:
        rows = conn.execute(query).all()
        chosen: list[Any] = []
        last = None
        for row in rows[: limit * WALLET_SCAN_FACTOR]:
            last = row
            if coupon_status(row, now)[0] in ("active", "not_started"):
                chosen.append(row)
                if len(chosen) == limit:
                    break
        items = coupon_bodies(conn, chosen, now)
    more = last is not None and (len(rows) > limit * WALLET_SCAN_FACTOR or last is not rows[-1])
    return items, _encode_wallet_cursor(last.issued_at, last.code) if more else None


def _encode_wallet_cursor(issued_at: datetime, code: str) -> str:
    return base64.urlsafe_b64encode(f"{issued_at.isoformat()}|{code}".encode()).decode()


def _decode_wallet_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        issued, _, code = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().partition("|")
        issued_at = datetime.fromisoformat(issued).astimezone(UTC)
        if not code or issued[-6:] != "+00:00":
            raise ValueError("not one of ours")
    except (ValueError, UnicodeError, OverflowError):
        raise InvalidInput(
            "cursor", "is not a cursor this API gave out: pass `next_cursor` back unchanged"
        ) from None
    return issued_at, code


def check_campaign_visible(db: Database, actor: Actor, campaign_id: str) -> None:
    actor.require(Permission.MANAGE_CAMPAIGNS)
    with db.read() as conn:
        load_visible(conn, actor, campaign_id)
