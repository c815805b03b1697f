"""Use cases of campaigns: create, read, list, change. Each is one function and one transaction."""

from __future__ import annotations

import base64
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update

from couponry.adapters.db.campaign_rules import rules_from_parts
from couponry.adapters.db.campaign_usage import CampaignUsage, count_coupon_usage, count_usage
from couponry.adapters.db.claims import offers_of, save_offer
from couponry.adapters.db.engine import Database
from couponry.adapters.db.limit_slots import create_slots, remove_slots, respread, usage_of
from couponry.adapters.db.tables import campaigns, coupons, segments
from couponry.domain.claims import ClaimOffer, parse_offer
from couponry.domain.errors import InvalidCampaign, InvalidInput, NotFound
from couponry.domain.rules import check_campaign
from couponry.services.access.actors import Actor, Permission, Role
from couponry.services.ids import new_id

DEFINITION_KEYS = ("issuer", "discount", "scope", "conditions", "validity", "code_config", "image_url")
LIMIT_KEYS = ("max_redemptions", "budget", "per_coupon", "per_customer")


def _checked(campaign_id: str, name: str, currency: str, fields: dict[str, Any]) -> None:
    """Build the domain rules from the would-be stored fields and let the domain refuse nonsense."""
    limits = fields.get("limits") or {}
    try:
        rules = rules_from_parts(
            campaign_id,
            currency=currency,
            status=fields["status"],
            stacking=fields["stacking"],
            definition=_definition(fields),
            **{k: limits.get(k) for k in LIMIT_KEYS},
        )
    except (KeyError, ValueError) as exc:  # pragma: no cover - the schema layer catches shapes first
        raise InvalidCampaign("discount", str(exc)) from exc
    check_campaign(name, rules)


def _segment_exists(conn: Connection, fields: dict[str, Any]) -> None:
    """A condition on a segment that does not exist would refuse every customer: refuse it instead."""
    segment_id = (fields.get("conditions") or {}).get("segment_id")
    if (
        segment_id is not None
        and conn.execute(select(segments.c.id).where(segments.c.id == segment_id)).first() is None
    ):
        raise InvalidCampaign("conditions.segment_id", f"no segment {segment_id}")


def _row_values(fields: dict[str, Any]) -> dict[str, Any]:
    limits = fields.get("limits") or {}
    issuer = fields["issuer"]
    return {
        "name": fields["name"],
        "issuer_type": issuer["type"],
        "store_id": issuer.get("store_id") if issuer["type"] == "store" else None,
        "currency": fields["currency"],
        "status": fields["status"],
        "stacking": fields["stacking"],
        "definition": _definition(fields),
        "is_public": bool(fields.get("public", False)),
        **{k: limits.get(k) for k in LIMIT_KEYS},
    }


def _definition(fields: dict[str, Any]) -> dict[str, Any]:
    definition = {k: fields.get(k) for k in DEFINITION_KEYS}
    if fields.get("variants"):  # an A/B test (services/reporting/variants.py)
        definition["variants"] = fields["variants"]
    return definition


def _tracks(values: Any) -> bool:
    """Whether a campaign with these limits counts its usage on slots (it has a campaign-wide limit)."""
    return values["max_redemptions"] is not None or values["budget"] is not None


def _stats(conn: Connection, rows: list[Any]) -> dict[str, dict[str, int]]:
    """Usage summed from the slots of campaigns with a campaign-wide limit, counted from the records
    for the others."""
    counted = {
        **usage_of(conn, [r.id for r in rows if r.limit_slots]),
        **count_usage(conn, [r.id for r in rows if not r.limit_slots]),
    }
    return {r.id: asdict(counted.get(r.id) or CampaignUsage()) for r in rows}


def to_public(row: Any, stats: dict[str, int], claim: dict[str, Any] | None = None) -> dict[str, Any]:
    d = row.definition
    return {
        "id": row.id,
        "name": row.name,
        "issuer": d["issuer"],
        "currency": row.currency,
        "discount": d["discount"],
        "scope": d["scope"],
        "conditions": d["conditions"],
        "validity": d["validity"],
        "limits": {k: getattr(row, k) for k in LIMIT_KEYS},
        "stacking": row.stacking,
        "code_config": d["code_config"],
        "status": row.status,
        "public": row.is_public,
        "claim": claim,
        "image_url": d.get("image_url"),
        "variants": d.get("variants") or [],
        "stats": dict(stats),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def create_campaign(db: Database, actor: Actor, spec: dict[str, Any], now: datetime) -> dict[str, Any]:
    """`spec` is the JSON-shaped campaign of API.md; `issuer` None means "the caller's own"."""
    actor.require(Permission.MANAGE_CAMPAIGNS)
    fields = dict(spec)
    if fields.get("issuer") is None:
        fields["issuer"] = (
            {"type": "store", "store_id": actor.store_id}
            if actor.role is Role.STORE
            else {"type": "platform"}
        )
    issuer = fields["issuer"]
    actor.require_store_access(issuer.get("store_id") if issuer["type"] == "store" else None)
    campaign_id = new_id()
    _checked(campaign_id, fields["name"], fields["currency"], fields)
    values = _row_values(fields)
    offer = _offer(fields.get("claim"))
    with db.write() as conn:
        _segment_exists(conn, fields)
        conn.execute(insert(campaigns).values(id=campaign_id, created_at=now, updated_at=now, **values))
        if _tracks(values):
            create_slots(conn, campaign_id, db.limit_slots, CampaignUsage())
        if offer is not None:
            save_offer(conn, campaign_id, offer, now)
        return _public(conn, _load(conn, campaign_id))


def _offer(claim: dict[str, Any] | None) -> ClaimOffer | None:
    """The coupon-center offer of a `claim` section (services/distribution/claims.py claims it)."""
    return None if claim is None else parse_offer(claim)


def _claims(conn: Connection, rows: list[Any]) -> dict[str, dict[str, Any]]:
    return {cid: stored.as_data() for cid, stored in offers_of(conn, [r.id for r in rows]).items()}


def _public(conn: Connection, row: Any) -> dict[str, Any]:
    return to_public(row, _stats(conn, [row])[row.id], _claims(conn, [row]).get(row.id))


def _load(conn: Connection, campaign_id: str, *, for_update: bool = False) -> Any:
    query = select(campaigns).where(campaigns.c.id == campaign_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound(f"no campaign {campaign_id}")
    return row


def load_visible(conn: Connection, actor: Actor, campaign_id: str, *, for_update: bool = False) -> Any:
    """The campaign, if this key may see it (another store's campaign is a 403, as API.md says)."""
    row = _load(conn, campaign_id, for_update=for_update)
    actor.require_store_access(row.store_id)
    return row


def get_campaign(db: Database, actor: Actor, campaign_id: str) -> dict[str, Any]:
    actor.require(Permission.MANAGE_CAMPAIGNS)
    with db.read() as conn:
        public = _public(conn, load_visible(conn, actor, campaign_id))
        public["stats"]["coupons"] = conn.execute(
            select(func.count()).select_from(coupons).where(coupons.c.campaign_id == campaign_id)
        ).scalar_one()
        return public


def _encode_cursor(created_at: datetime, campaign_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{campaign_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) a `next_cursor` stands for; anything else is a 422 naming `cursor`."""
    try:
        created, _, last_id = base64.urlsafe_b64decode(cursor.encode("ascii")).decode().partition("|")
        at = datetime.fromisoformat(created).astimezone(UTC)
        if not last_id or created[-6:] != "+00:00":
            raise ValueError("not one of ours")
    except (ValueError, UnicodeError, OverflowError):  # binascii.Error is a ValueError
        raise InvalidInput(
            "cursor", "is not a cursor this API gave out: pass `next_cursor` back unchanged"
        ) from None
    return at, last_id


def list_campaigns(
    db: Database, actor: Actor, *, status: str | None = None, limit: int = 50, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first, keyset-paged on (created_at, id) so pages stay stable while campaigns are added."""
    actor.require(Permission.MANAGE_CAMPAIGNS)
    query = select(campaigns).order_by(campaigns.c.created_at.desc(), campaigns.c.id.desc()).limit(limit + 1)
    if actor.store_scope:
        query = query.where(campaigns.c.store_id == actor.store_scope)
    if status:
        query = query.where(campaigns.c.status == status)
    if cursor:
        at, last_id = _decode_cursor(cursor)
        query = query.where(
            (campaigns.c.created_at < at) | ((campaigns.c.created_at == at) & (campaigns.c.id < last_id))
        )
    with db.read() as conn:
        rows = conn.execute(query).all()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = _encode_cursor(last.created_at, last.id)
        stats = _stats(conn, rows)
        offers = _claims(conn, rows)
    return [to_public(r, stats[r.id], offers.get(r.id)) for r in rows], next_cursor


def update_campaign(
    db: Database, actor: Actor, campaign_id: str, patch: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Replace the given sections. The campaign row is locked by the UPDATE, so a concurrent redemption
    sees either the old or the new limits, never a mix; the slots of a campaign-wide limit are spread
    again under their locks (adapters.db.limit_slots)."""
    actor.require(Permission.MANAGE_CAMPAIGNS)
    limits = patch.get("limits") or {}
    may_start_counting = any(limits.get(k) is not None for k in ("max_redemptions", "budget", "per_coupon"))
    with db.write() as conn:
        if may_start_counting and conn.dialect.name == "postgresql":
            # Wait for every redemption, hold and rollback in flight and keep new ones out until this
            # commits: each writes one of these tables before it decides whether to count on the
            # campaign's slots or the coupon's row, so the recount below misses none and none counts
            # twice. (SQLite serializes writers already.) The lock comes first, before any row lock.
            conn.execute(text("LOCK TABLE redemption_codes, reservations IN SHARE MODE"))
        # locked until commit: two PATCHes at once must not each merge into the same old version
        row = load_visible(conn, actor, campaign_id, for_update=True)
        fields = {**to_public(row, {}), **{k: v for k, v in patch.items() if v is not None}}
        _checked(campaign_id, fields["name"], fields["currency"], fields)
        if (patch.get("conditions") or {}).get("segment_id") is not None:
            _segment_exists(conn, fields)
        values = _row_values(fields)
        values.pop("issuer_type")
        values.pop("store_id")
        conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(updated_at=now, **values))
        if row.limit_slots and not _tracks(values):
            remove_slots(conn, campaign_id)
        elif not row.limit_slots and _tracks(values):
            create_slots(conn, campaign_id, db.limit_slots, count_usage(conn, [campaign_id])[campaign_id])
        elif row.limit_slots:
            respread(conn, campaign_id)  # new limits or status: what is left, spread again
        if row.per_coupon is None and values["per_coupon"] is not None:
            _start_counting_coupons(conn, campaign_id)
        offer = _offer(patch.get("claim"))
        if offer is not None:
            save_offer(conn, campaign_id, offer, now)
        return _public(conn, _load(conn, campaign_id))


def _start_counting_coupons(conn: Connection, campaign_id: str) -> None:
    """A per-coupon limit arrives: its coupons' counters (ignored until now) start from their records."""
    conn.execute(
        update(coupons)
        .where(
            coupons.c.campaign_id == campaign_id,
            (coupons.c.redeemed_count != 0) | (coupons.c.held_count != 0),
        )
        .values(redeemed_count=0, held_count=0)
    )
    counted = count_coupon_usage(conn, campaign_id)
    if counted:
        conn.execute(
            text("UPDATE coupons SET redeemed_count = :redeemed, held_count = :held WHERE code = :code"),
            [{"code": code, "redeemed": r, "held": h} for code, (r, h) in counted.items()],
        )
