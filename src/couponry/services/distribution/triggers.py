"""Triggers: rules that reward a customer with a coupon package when something happens to them.

Event-driven triggers (customer.created, order.completed, referral.completed) run in the transaction
of the event that fires them (services/customers, services/distribution/referrals), so an event is
recorded and rewarded together or not at all. Birthdays, sign-up anniversaries and the second new-user
package (welcome.unused) are found by the daily job `triggers.daily` (services/scheduling/catalog).

Whether a trigger fires is decided by domain/triggers.py; how often is held by the database: a reward
takes a free slot (1..per_customer) of the primary key (trigger, customer, period, slot), and its
occasion (the order, the year's birthday ...) is unique per trigger and customer. A redelivered event,
a second run of the daily job or two processes handling one event at once therefore reward once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, func, select, update

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.engine import Database
from couponry.adapters.db.tables import campaigns, coupons, customers, trigger_rewards, triggers
from couponry.domain.errors import InvalidInput, NotFound
from couponry.domain.triggers import (
    Occurrence,
    PackageCoupon,
    Trigger,
    birthday_keys,
    check_trigger,
    coupon_ends,
    fires,
    is_anniversary,
    is_birthday,
    occasion,
    period,
    welcome_unused_due,
)
from couponry.services.access.actors import Actor, Permission
from couponry.services.distribution.rewards import IssuedCoupon, issuable_campaigns, issue_package
from couponry.services.ids import new_id
from couponry.services.messaging.mails import queue_birthday
from couponry.services.scheduling.scheduler import JobContext

PAGE = 500  # customers per write transaction of the daily job


# --- managing triggers ----------------------------------------------------------------------------


def _body(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "event": row.event,
        "campaign_ids": row.campaign_ids,
        "min_amount": row.min_amount,
        "per_customer": row.per_customer,
        "after_trigger_id": row.after_trigger_id,
        "days": row.days,
        "created_at": row.created_at,
    }


def check_campaigns_exist(conn: Connection, field: str, campaign_ids: list[str]) -> None:
    known = set(conn.execute(select(campaigns.c.id).where(campaigns.c.id.in_(campaign_ids))).scalars())
    unknown = [c for c in campaign_ids if c not in known]
    if unknown:
        raise InvalidInput(field, f"unknown campaigns: {', '.join(unknown[:5])}", code="unknown_campaign")


def create_trigger(db: Database, actor: Actor, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """201 with the trigger; an unknown campaign is 422 unknown_campaign, an unknown first-package
    trigger 422 unknown_trigger, and nothing is written."""
    actor.require(Permission.MANAGE_TRIGGERS)
    checked = check_trigger(body)
    with db.write() as conn:
        check_campaigns_exist(conn, "campaign_ids", checked["campaign_ids"])
        if checked["after_trigger_id"] is not None:
            first = conn.execute(
                select(triggers.c.id).where(
                    triggers.c.id == checked["after_trigger_id"], triggers.c.deleted_at.is_(None)
                )
            ).first()
            if first is None:
                raise InvalidInput(
                    "after_trigger_id", f"no trigger {checked['after_trigger_id']}", code="unknown_trigger"
                )
        trigger_id = new_id()
        conn.execute(triggers.insert().values(id=trigger_id, created_at=now, **checked))
        return _body(conn.execute(select(triggers).where(triggers.c.id == trigger_id)).one())


def list_triggers(db: Database, actor: Actor) -> list[dict[str, Any]]:
    actor.require(Permission.MANAGE_TRIGGERS)
    with db.read() as conn:
        rows = conn.execute(
            select(triggers)
            .where(triggers.c.deleted_at.is_(None))
            .order_by(triggers.c.created_at, triggers.c.id)
        ).all()
    return [_body(r) for r in rows]


def get_trigger(db: Database, actor: Actor, trigger_id: str) -> dict[str, Any]:
    actor.require(Permission.MANAGE_TRIGGERS)
    with db.read() as conn:
        row = conn.execute(
            select(triggers).where(triggers.c.id == trigger_id, triggers.c.deleted_at.is_(None))
        ).first()
    if row is None:
        raise NotFound(f"no trigger {trigger_id}")
    return _body(row)


def delete_trigger(db: Database, actor: Actor, trigger_id: str, now: datetime) -> None:
    """The trigger stops firing; its rewards (and the coupons they issued) stay."""
    actor.require(Permission.MANAGE_TRIGGERS)
    with db.write() as conn:
        done = conn.execute(
            update(triggers)
            .where(triggers.c.id == trigger_id, triggers.c.deleted_at.is_(None))
            .values(deleted_at=now)
            .returning(triggers.c.id)
        ).first()
    if done is None:
        raise NotFound(f"no trigger {trigger_id}")


# --- rewarding ------------------------------------------------------------------------------------


def _live(conn: Connection, event: str) -> list[Trigger]:
    rows = conn.execute(
        select(triggers)
        .where(triggers.c.event == event, triggers.c.deleted_at.is_(None))
        .order_by(triggers.c.created_at, triggers.c.id)
    ).all()
    return [
        Trigger(
            r.id, r.event, tuple(r.campaign_ids), r.min_amount, r.per_customer, r.after_trigger_id, r.days
        )
        for r in rows
    ]


def reward(conn: Connection, trigger: Trigger, occurrence: Occurrence, now: datetime) -> list[IssuedCoupon]:
    """Issue the trigger's package to the occurrence's customer if the trigger fires and a slot of its
    per-customer cap is free; [] otherwise (or when this occasion was rewarded already).

    The slot is taken by an INSERT the database arbitrates: of two transactions taking the same slot,
    the second waits for the first and then finds it taken (and, for the same occasion, stops)."""
    if not fires(trigger, occurrence):
        return []
    package = issuable_campaigns(conn, trigger.campaign_ids)
    if not package:
        return []
    key = {
        "trigger_id": trigger.id,
        "customer_id": occurrence.customer_id,
        "period": period(trigger, occurrence),
    }
    taken = conn.execute(
        select(func.count())
        .select_from(trigger_rewards)
        .where(*(trigger_rewards.c[k] == v for k, v in key.items()))
    ).scalar_one()
    for slot in range(taken + 1, trigger.per_customer + 1):
        row = {**key, "slot": slot, "occasion": occasion(occurrence), "codes": [], "rewarded_at": now}
        if insert_ignoring_conflicts(conn, trigger_rewards, row):
            issued = issue_package(conn, package, occurrence.customer_id, now)
            conn.execute(
                update(trigger_rewards)
                .where(*(trigger_rewards.c[k] == v for k, v in key.items()), trigger_rewards.c.slot == slot)
                .values(codes=[c.code for c in issued])
            )
            return issued
        if _rewarded(conn, trigger.id, occurrence.customer_id, occasion(occurrence)):
            return []
    return []


def _rewarded(conn: Connection, trigger_id: str, customer_id: str, what: str) -> bool:
    return (
        conn.execute(
            select(trigger_rewards.c.slot).where(
                trigger_rewards.c.trigger_id == trigger_id,
                trigger_rewards.c.customer_id == customer_id,
                trigger_rewards.c.occasion == what,
            )
        ).first()
        is not None
    )


def on_occurrence(conn: Connection, occurrence: Occurrence, now: datetime) -> int:
    """Reward the occurrence by every live trigger of its event; returns how many coupons were issued."""
    return sum(len(reward(conn, t, occurrence, now)) for t in _live(conn, occurrence.event))


# --- the daily job --------------------------------------------------------------------------------


def daily_triggers_job(ctx: JobContext) -> int:
    """Birthdays, sign-up anniversaries and second new-user packages as of `ctx.now`; idempotent (a
    second run the same day finds every occasion rewarded). Returns how many coupons were issued."""
    return run_daily(ctx.db, ctx.now)


def run_daily(db: Database, now: datetime) -> int:
    with db.read() as conn:
        live = {event: _live(conn, event) for event in ("birthday", "signup_anniversary", "welcome.unused")}
    day = now.date()
    issued = 0
    for trigger in live["birthday"]:
        issued += _yearly(db, trigger, now, _birthdays(day))
    for trigger in live["signup_anniversary"]:
        issued += _yearly(db, trigger, now, _anniversaries(day))
    for trigger in live["welcome.unused"]:
        issued += _second_packages(db, trigger, now)
    return issued


def _birthdays(day: date) -> Any:
    def where(conn: Connection) -> Any:
        return func.substr(customers.c.birthday, 6, 5).in_(birthday_keys(day))

    return where, lambda row: is_birthday(row.birthday, day)


def _anniversaries(day: date) -> Any:
    def where(conn: Connection) -> Any:
        if conn.dialect.name == "postgresql":
            month_day = func.to_char(func.timezone("UTC", customers.c.signed_up_at), "MM-DD")
        else:
            month_day = func.strftime("%m-%d", customers.c.signed_up_at)
        this_year = datetime(day.year, 1, 1, tzinfo=UTC)
        return and_(month_day.in_(birthday_keys(day)), customers.c.signed_up_at < this_year)

    return where, lambda row: is_anniversary(row.signed_up_at, day)


def _pages(db: Database, where: Any) -> Iterator[tuple[Connection, list[Any]]]:
    """The matching customers a page per write transaction, in id order."""
    after = ""
    while True:
        with db.write() as conn:
            page = conn.execute(
                select(
                    customers.c.id,
                    customers.c.birthday,
                    customers.c.signed_up_at,
                    customers.c.email,
                    customers.c.marketing_consent,
                )
                .where(where(conn), customers.c.id > after)
                .order_by(customers.c.id)
                .limit(PAGE)
            ).all()
            yield conn, page
        if len(page) < PAGE:
            return
        after = page[-1].id


def _yearly(db: Database, trigger: Trigger, now: datetime, match: Any) -> int:
    where, today = match
    issued = 0
    for conn, page in _pages(db, where):
        for row in page:
            if not today(row):
                continue
            coupons_ = reward(conn, trigger, Occurrence(trigger.event, row.id, str(now.year), now), now)
            issued += len(coupons_)
            if coupons_ and trigger.event == "birthday" and row.marketing_consent and row.email:
                queue_birthday(conn, row.id, now.date(), now, code=coupons_[0].display_code)
    return issued


def _second_packages(db: Database, trigger: Trigger, now: datetime) -> int:
    """welcome.unused: customers first rewarded by `after_trigger_id` at least `days` ago, still without
    an order and not yet given this package; each is checked by domain.triggers.welcome_unused_due."""
    assert trigger.after_trigger_id is not None and trigger.days is not None
    first = trigger_rewards.alias("first")
    given = trigger_rewards.alias("given")
    issued, after = 0, ""
    while True:
        with db.write() as conn:
            page = conn.execute(
                select(
                    first.c.customer_id,
                    func.min(first.c.rewarded_at).label("rewarded_at"),
                    customers.c.order_count,
                )
                .join(customers, customers.c.id == first.c.customer_id)
                .where(
                    first.c.trigger_id == trigger.after_trigger_id,
                    first.c.rewarded_at <= now - timedelta(days=trigger.days),
                    first.c.customer_id > after,
                    customers.c.order_count == 0,
                    ~exists().where(
                        given.c.trigger_id == trigger.id, given.c.customer_id == first.c.customer_id
                    ),
                )
                .group_by(first.c.customer_id, customers.c.order_count)
                .order_by(first.c.customer_id)
                .limit(PAGE)
            ).all()
            for row in page:
                package = _package(conn, trigger.after_trigger_id, row.customer_id)
                if welcome_unused_due(trigger, row.rewarded_at, package, row.order_count, now):
                    occurrence = Occurrence("welcome.unused", row.customer_id, trigger.after_trigger_id, now)
                    issued += len(reward(conn, trigger, occurrence, now))
        if len(page) < PAGE:
            return issued
        after = page[-1].customer_id


def _package(conn: Connection, trigger_id: str, customer_id: str) -> list[PackageCoupon]:
    """Every coupon the customer received from the trigger, with when it ends and whether it was used."""
    codes = [
        code
        for codes_ in conn.execute(
            select(trigger_rewards.c.codes).where(
                trigger_rewards.c.trigger_id == trigger_id, trigger_rewards.c.customer_id == customer_id
            )
        ).scalars()
        for code in codes_
    ]
    if not codes:
        return []
    rows = conn.execute(
        select(coupons.c.issued_at, coupons.c.redeemed_count, coupons.c.held_count, campaigns.c.definition)
        .join(campaigns, campaigns.c.id == coupons.c.campaign_id)
        .where(coupons.c.code.in_(codes))
    ).all()
    return [
        PackageCoupon(
            coupon_ends(r.definition.get("validity") or {}, r.issued_at), r.redeemed_count + r.held_count > 0
        )
        for r in rows
    ]
