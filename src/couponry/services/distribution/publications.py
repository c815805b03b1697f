"""Push: publish a campaign to a segment or a list of customers, one personal coupon each.

A publication is a background job (services/jobs). It walks its customers in id order, a batch per
transaction; each batch claims, issues, queues the `coupon.issued` events (and, with `notify`, the
mails to customers with an e-mail and marketing consent) and advances the job's progress, so what is
counted is exactly what was committed. The segment is resolved once, at the start of the run, so its
time rules do not drift while a long push runs. A customer never gets a second coupon of a campaign
from a publication: the database refuses the second claim (adapters/db/publishing.py).
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from couponry.adapters.db.engine import Database
from couponry.adapters.db.publishing import IssuedMail, Recipient, issue_batch
from couponry.adapters.db.segments import load_segment, members_where
from couponry.adapters.db.tables import campaigns, coupons, customers, jobs, publications, published_coupons
from couponry.adapters.db.variants import assign_variants
from couponry.domain.codes import CodeConfig, check_code_space
from couponry.domain.errors import InvalidInput, InvalidState, NotFound
from couponry.services.access.actors import Actor, Permission
from couponry.services.campaigns.campaigns import load_visible
from couponry.services.distribution.links import CouponLinks, coupon_links
from couponry.services.ids import new_id, utcnow
from couponry.services.jobs import jobs as job_queue

JOB_KIND = "publish"
MAX_LISTED = 10_000
BATCH = 10_000  # customers per transaction (on SQLite the write lock is held about a second per batch)
EXPORT_HEADER = ("customer_id", "email", "code", "coupon_url")


def create_publication(
    db: Database, actor: Actor, campaign_id: str, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Check the request and queue the job; 202 with {id, status, done, total, issued}."""
    actor.require(Permission.MANAGE_CAMPAIGNS)
    segment_id, listed = body.get("segment_id"), body.get("customer_ids")
    if (segment_id is None) == (listed is None):
        raise InvalidInput("segment_id", "give either segment_id or customer_ids")
    notify = bool(body.get("notify", False))
    if segment_id is not None:  # counted before the write transaction: on SQLite it holds the write lock
        with db.read() as conn:
            segment = load_segment(conn, segment_id)
            if segment is None:
                raise InvalidInput("segment_id", f"no segment {segment_id}")
            total = conn.execute(
                select(func.count()).select_from(customers).where(members_where(conn, segment, now))
            ).scalar_one()
    with db.write() as conn:
        campaign = load_visible(conn, actor, campaign_id)
        if campaign.status == "archived":
            raise InvalidState("an archived campaign cannot be published", code="campaign_archived")
        if segment_id is None:
            listed = _checked_list(conn, listed)
            total = len(listed)
        check_code_space(CodeConfig.from_dict(campaign.definition.get("code_config")), max(total, 1))
        publication_id = new_id()
        job = job_queue.enqueue(
            conn,
            JOB_KIND,
            {"publication_id": publication_id, "campaign_id": campaign_id},
            total=total,
            now=now,
        )
        conn.execute(
            insert(publications).values(
                id=publication_id,
                campaign_id=campaign_id,
                segment_id=segment_id,
                customer_ids=listed,
                notify=notify,
                job_id=job["id"],
                created_at=now,
            )
        )
        return _body(_load(conn, publication_id))


def _checked_list(conn: Connection, listed: Any) -> list[str]:
    if not isinstance(listed, list) or not 1 <= len(listed) <= MAX_LISTED:
        raise InvalidInput("customer_ids", f"must list 1 to {MAX_LISTED} customer ids")
    if not all(isinstance(c, str) and c for c in listed):
        raise InvalidInput("customer_ids", "must be customer ids (strings)")
    wanted = sorted(set(listed))
    known: set[str] = set()
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        known |= set(conn.execute(select(customers.c.id).where(customers.c.id.in_(chunk))).scalars())
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise InvalidInput("customer_ids", f"unknown customers: {', '.join(unknown[:5])}")
    return wanted


def _load(conn: Connection, publication_id: str) -> Any:
    row = conn.execute(
        select(publications, jobs.c.status, jobs.c.done, jobs.c.total, jobs.c.error)
        .join(jobs, jobs.c.id == publications.c.job_id)
        .where(publications.c.id == publication_id)
    ).first()
    if row is None:
        raise NotFound(f"no publication {publication_id}")
    return row


def _body(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "done": row.done,
        "total": row.total,
        "issued": row.issued,
        "campaign_id": row.campaign_id,
        "segment_id": row.segment_id,
        "notify": row.notify,
        "error": row.error,
        "created_at": row.created_at,
    }


def _visible(conn: Connection, actor: Actor, publication_id: str) -> Any:
    row = _load(conn, publication_id)
    load_visible(conn, actor, row.campaign_id)
    return row


def get_publication(db: Database, actor: Actor, publication_id: str) -> dict[str, Any]:
    actor.require(Permission.MANAGE_CAMPAIGNS)
    with db.read() as conn:
        return _body(_visible(conn, actor, publication_id))


# --- the job --------------------------------------------------------------------------------------


def run_publication(db: Database, job: Any, progress: Callable[[Connection, int], None]) -> None:
    """Issue the publication's coupons, one batch per transaction (called by the job worker), each batch
    recording `progress(conn, done)` in its own transaction. A resumed job walks its customers from the
    start again: the published_coupons primary key makes the customers already served no-ops."""
    started = utcnow()
    with db.read() as conn:
        pub = _load(conn, job.params["publication_id"])
        campaign = conn.execute(select(campaigns).where(campaigns.c.id == pub.campaign_id)).one()
        members = None
        if pub.segment_id is not None:
            segment = load_segment(conn, pub.segment_id)
            if segment is None:
                raise NotFound(f"no segment {pub.segment_id}")
            members = members_where(conn, segment, started)
    config = CodeConfig.from_dict(campaign.definition.get("code_config"))
    links = coupon_links(db)
    done, after = 0, ""
    while True:
        with db.write() as conn:
            now = utcnow()
            recipients, cursor, walked = _next_batch(conn, members, pub.customer_ids, after)
            if cursor is None:
                break
            issued = issue_batch(
                conn,
                campaign_id=pub.campaign_id,
                publication_id=pub.id,
                config=config,
                recipients=recipients,
                now=now,
                mail=_mail(campaign, now, links) if pub.notify else None,
            )
            assign_variants(conn, pub.campaign_id, [i.customer_id for i in issued], now, campaign.definition)
            done += walked
            after = cursor
            progress(conn, done)
            conn.execute(
                update(publications)
                .where(publications.c.id == pub.id)
                .values(issued=publications.c.issued + len(issued))
            )


def _next_batch(
    conn: Connection, members: Any, listed: list[str] | None, after: str
) -> tuple[list[Recipient], str | None, int]:
    """The next recipients, the cursor past them (None at the end) and how many customers that walks."""
    query = select(customers.c.id, customers.c.email, customers.c.marketing_consent).order_by(customers.c.id)
    if members is not None:
        rows = conn.execute(query.where(members, customers.c.id > after).limit(BATCH)).all()
        cursor, walked = (rows[-1].id if rows else None), len(rows)
    else:
        assert listed is not None  # sorted when the publication was created
        chunk = listed[bisect_right(listed, after) :][:BATCH]
        if not chunk:
            return [], None, 0
        # a listed customer deleted since is skipped (and still walked past)
        rows = conn.execute(query.where(customers.c.id.in_(chunk))).all()
        cursor, walked = chunk[-1], len(chunk)
    return [Recipient(r.id, r.email, bool(r.marketing_consent)) for r in rows], cursor, walked


def _valid_until(campaign: Any, issued_at: datetime) -> str | None:
    validity = campaign.definition.get("validity") or {}
    ends = [datetime.fromisoformat(validity["ends_at"])] if validity.get("ends_at") else []
    if validity.get("days_after_issue") is not None:
        ends.append(issued_at + timedelta(days=validity["days_after_issue"]))
    return min(ends).isoformat() if ends else None


def _mail(campaign: Any, now: datetime, links: CouponLinks) -> IssuedMail:
    """The `coupon_issued` mail's context (the outbox helper's template reads it)."""
    return IssuedMail(
        campaign_name=campaign.name,
        valid_until=_valid_until(campaign, now),
        url=lambda display, code, customer_id: links.url(display, customer_id, code=code),
    )


# --- the CSV export -------------------------------------------------------------------------------


def export_csv(db: Database, actor: Actor, publication_id: str, batch: int = 5_000) -> Iterator[str]:
    """The publication's coupons as CSV (customer_id,email,code,coupon_url). Access is checked now;
    the rows are read as the iterator is consumed, in keyset batches, so memory stays bounded."""
    actor.require(Permission.MANAGE_CAMPAIGNS)
    with db.read() as conn:
        _visible(conn, actor, publication_id)
    return _export_lines(db, publication_id, batch)


def _export_lines(db: Database, publication_id: str, batch: int) -> Iterator[str]:
    links = coupon_links(db)
    yield _csv_line(EXPORT_HEADER)
    after = ""
    while True:
        with db.read() as conn:
            rows = conn.execute(
                select(published_coupons.c.customer_id, customers.c.email, coupons.c.display_code)
                .join(coupons, coupons.c.code == published_coupons.c.code)
                .outerjoin(customers, customers.c.id == published_coupons.c.customer_id)
                .where(
                    published_coupons.c.publication_id == publication_id,
                    published_coupons.c.customer_id > after,
                )
                .order_by(published_coupons.c.customer_id)
                .limit(batch)
            ).all()
        if not rows:
            return
        yield "".join(
            _csv_line(
                (r.customer_id, r.email or "", r.display_code, links.url(r.display_code, r.customer_id))
            )
            for r in rows
        )
        after = rows[-1].customer_id


def _csv_line(values: tuple[str, ...]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()
