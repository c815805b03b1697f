"""Daily roll-ups per campaign (and variant) and per campaign and store, kept by folding raw rows.

Nothing is added to the redemption's transaction. The facts a redemption's figures depend on each
carry a sequence number (redemption codes, `order.completed` events, rollback facts: see tables.py);
one watermark row says how far each kind has been folded. A fold claims a range with one guarded
UPDATE of that row (a second process folding at the same moment waits for the row, then finds it
changed and folds nothing), adds what the facts in the range change (domain/measures.py), and commits
the roll-ups and the watermark together.

Which ranges are safe to fold: on SQLite writers are serialized, so every rowid below the largest is
committed. On PostgreSQL a transaction can commit after one with a higher number; a fold therefore
records the sequences' current ends with the database's clock, and folds up to them only once no
transaction of this database that started before that moment is still running (pg_stat_activity):
every row numbered below the ends belongs to such a transaction. (The server's role must see its own
sessions there, which any role does; other databases on the server never hold it back.)

Readers never wait for a fold: `tail` computes, without writing, what the facts past the watermarks
add, and the answer is the roll-ups plus the tail, read in one snapshot.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from couponry.adapters.db.dialect import insert_ignoring_conflicts
from couponry.adapters.db.tables import (
    campaign_daily,
    measure_watermark,
    store_daily,
)
from couponry.domain.measures import (
    Adjustment,
    CodeFact,
    Deltas,
    LineFact,
    RedemptionFacts,
    Watermarks,
)

BATCH = 20_000  # facts of each kind per fold transaction
CHUNK = 2000  # redemptions per look-up query
EVERYTHING = Watermarks(2**62, 2**62, 2**62)


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _seq(conn: Connection) -> str:
    return "seq" if _pg(conn) else "rowid"


def _json(conn: Connection, column: str, key: str) -> str:
    if _pg(conn):
        return f"({column}->>'{key}')::bigint"
    return f"json_extract({column}, '$.{key}')"


@dataclass(frozen=True)
class State:
    timezone: str
    marks: Watermarks
    pending: Watermarks | None
    pending_at: datetime


def read_state(conn: Connection, timezone: str, now: datetime) -> State:
    row = conn.execute(select(measure_watermark).where(measure_watermark.c.id == 1)).first()
    if row is None:
        return State(timezone, Watermarks(0, 0, 0), None, now)
    pending = None
    if row.pending_codes is not None:
        pending = Watermarks(row.pending_codes, row.pending_events, row.pending_adjustments)
    return State(
        row.timezone,
        Watermarks(row.codes, row.events, row.adjustments),
        pending,
        row.updated_at,
    )


def read_state_and_backlog(conn: Connection, timezone: str, now: datetime) -> tuple[State, int]:
    """The state, and how many facts wait past its watermarks (at most: PostgreSQL counts the numbers
    handed out), in one round trip."""
    ends = _ends_sql(conn)
    row = conn.execute(
        text(
            f"SELECT w.*, e.c AS end_codes, e.e AS end_events, e.a AS end_adjustments "
            f"FROM ({ends}) AS e LEFT JOIN measure_watermark w ON w.id = 1"
        )
    ).one()
    if row.id is None:
        state = State(timezone, Watermarks(0, 0, 0), None, now)
    else:
        pending = None
        if row.pending_codes is not None:
            pending = Watermarks(row.pending_codes, row.pending_events, row.pending_adjustments)
        at = (
            row.updated_at if isinstance(row.updated_at, datetime) else datetime.fromisoformat(row.updated_at)
        )
        state = State(row.timezone, Watermarks(row.codes, row.events, row.adjustments), pending, at)
    waiting = (
        max(0, int(row.end_codes) - state.marks.codes)
        + max(0, int(row.end_events) - state.marks.events)
        + max(0, int(row.end_adjustments) - state.marks.adjustments)
    )
    return state, waiting


# --- what has been written so far ---------------------------------------------------------------


def _ends_sql(conn: Connection) -> str:
    if _pg(conn):
        # a sequence that never handed a number out still says last_value = 1 (is_called false): its
        # end is 0, or the first redemption (seq 1) would be folded past before it exists and then missed
        return (
            "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
            "FROM redemption_codes_seq_seq) AS c, "
            "(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM events_seq_seq) AS e, "
            "(SELECT coalesce(max(seq), 0) FROM measure_adjustments) AS a"
        )
    return (
        "SELECT (SELECT coalesce(max(rowid), 0) FROM redemption_codes) AS c, "
        "(SELECT coalesce(max(rowid), 0) FROM events) AS e, "
        "(SELECT coalesce(max(seq), 0) FROM measure_adjustments) AS a"
    )


def _ends(conn: Connection) -> Watermarks:
    """The highest sequence number handed out for each kind (on PostgreSQL, maybe not yet committed)."""
    row = conn.execute(text(_ends_sql(conn))).one()
    return Watermarks(int(row[0]), int(row[1]), int(row[2]))


def _clock(conn: Connection) -> datetime:
    return conn.execute(text("SELECT clock_timestamp()")).scalar_one()


def _settled(conn: Connection, since: datetime) -> bool:
    """No other transaction of this database that started at or before `since` is still running."""
    running = conn.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND xact_start <= :since"
        ),
        {"since": since},
    ).scalar_one()
    return running == 0


def _lower(a: Watermarks, b: Watermarks) -> Watermarks:
    return Watermarks(min(a.codes, b.codes), min(a.events, b.events), min(a.adjustments, b.adjustments))


def _capped(start: Watermarks, end: Watermarks) -> Watermarks:
    return _lower(end, Watermarks(start.codes + BATCH, start.events + BATCH, start.adjustments + BATCH))


# --- folding --------------------------------------------------------------------------------------


def fold_once(conn: Connection, timezone: str, now: datetime) -> int:
    """One fold in the caller's write transaction; returns how many redemptions it touched (0: nothing
    to fold, or another process is folding)."""
    insert_ignoring_conflicts(
        conn,
        measure_watermark,
        {"id": 1, "timezone": timezone, "codes": 0, "events": 0, "adjustments": 0, "updated_at": now},
    )
    state = read_state(conn, timezone, now)
    if state.timezone != timezone:
        _reset(conn, state, timezone, now)
        return 0
    before = (state.pending, state.pending_at)
    ends = _ends(conn)
    pending, pending_at = state.pending, state.pending_at
    if _pg(conn):
        # the ends are read first, then the clock: a transaction holding a number below the ends began
        # before that clock reading
        if pending is not None and _settled(conn, pending_at):
            target = _capped(state.marks, pending)
        else:
            target = state.marks
        if pending is None or (target == pending and ends != pending):
            pending, pending_at = ends, _clock(conn)
    else:
        target = _capped(state.marks, ends)
        pending = None
    if target == state.marks and (pending, pending_at) == before:
        return 0  # nothing to fold and nothing new to wait for: no write at all
    claimed = conn.execute(
        update(measure_watermark)
        .where(
            measure_watermark.c.id == 1,
            measure_watermark.c.codes == state.marks.codes,
            measure_watermark.c.events == state.marks.events,
            measure_watermark.c.adjustments == state.marks.adjustments,
            measure_watermark.c.timezone == timezone,
        )
        .values(
            codes=target.codes,
            events=target.events,
            adjustments=target.adjustments,
            pending_codes=pending.codes if pending else None,
            pending_events=pending.events if pending else None,
            pending_adjustments=pending.adjustments if pending else None,
            updated_at=pending_at,
        )
        .returning(measure_watermark.c.id)
    ).first()
    if claimed is None or target == state.marks:
        return 0
    deltas = Deltas()
    affected = _affected(conn, state.marks, target)
    simple = _fold_simple(conn, state.marks, target, timezone, deltas) if _pg(conn) else set()
    for facts in _facts(conn, [i for i in affected if i not in simple], ZoneInfo(timezone)):
        deltas.change(facts, state.marks, target)
    _apply(conn, deltas)
    return len(affected)


# The common case in one set-based pass (PostgreSQL): redemptions whose codes are all in the range, with
# no rollback fact, no order.completed event so far and no customer in an A/B variant; what they add is
# their codes, their cart total and their lines, summed in SQL (domain/measures.py agrees for them).
_SIMPLE = """
WITH new AS (
    SELECT DISTINCT redemption_id FROM redemption_codes WHERE seq > :lo AND seq <= :hi
), simple AS MATERIALIZED (
    SELECT r.id, (r.created_at AT TIME ZONE :tz)::date AS day, (r.result->>'total')::bigint AS total
    FROM redemptions r JOIN new ON new.redemption_id = r.id
    WHERE NOT EXISTS (SELECT 1 FROM redemption_codes o WHERE o.redemption_id = r.id
                      AND (o.seq <= :lo OR o.seq > :hi))
      AND NOT EXISTS (SELECT 1 FROM redemption_codes o JOIN variant_assignments va
                      ON va.campaign_id = o.campaign_id AND va.customer_id = r.customer_id
                      AND va.assigned_at <= r.created_at WHERE o.redemption_id = r.id)
      AND NOT EXISTS (SELECT 1 FROM measure_adjustments a WHERE a.redemption_id = r.id AND a.seq <= :hi_a)
      AND NOT EXISTS (SELECT 1 FROM events e WHERE e.type = 'order.completed' AND e.ref = r.order_id
                      AND e.seq <= :hi_e)
)
SELECT 'id' AS kind, id AS a, NULL AS b, NULL AS c, NULL::date AS day,
       0::bigint AS v1, 0::bigint AS v2, 0::bigint AS v3, 0::bigint AS v4, 0::bigint AS v5
FROM simple
UNION ALL
SELECT 'campaign', campaign_id, NULL, NULL, day,
       sum(redeemed), count(*), sum(total), sum(platform), sum(store)
FROM (
    SELECT c.campaign_id, s.day, max(s.total) AS total, count(*) AS redeemed,
           sum(CASE WHEN c.issuer = 'platform' THEN c.discount + c.shipping_discount ELSE 0 END) AS platform,
           sum(CASE WHEN c.issuer = 'platform' THEN 0 ELSE c.discount + c.shipping_discount END) AS store
    FROM simple s JOIN redemption_codes c ON c.redemption_id = s.id
    GROUP BY c.campaign_id, s.day, s.id
) per_order GROUP BY campaign_id, day
UNION ALL
SELECT 'store', c.campaign_id, coalesce(l.store_id, ''), l.borne_by, s.day, sum(l.discount), 0, 0, 0, 0
FROM simple s JOIN redemption_lines l ON l.redemption_id = s.id
JOIN redemption_codes c ON c.redemption_id = l.redemption_id AND c.code = l.code
GROUP BY 2, 3, 4, 5
"""


def _fold_simple(conn: Connection, lo: Watermarks, hi: Watermarks, timezone: str, deltas: Deltas) -> set[str]:
    """One statement: the simple redemptions' ids, and what they add per campaign and per store."""
    conn.execute(text("SET LOCAL jit = off"))  # compiling this query costs more than running it
    params = {"lo": lo.codes, "hi": hi.codes, "hi_a": hi.adjustments, "hi_e": hi.events, "tz": timezone}
    ids: set[str] = set()
    for r in conn.execute(text(_SIMPLE), params):
        if r.kind == "id":
            ids.add(r.a)
        elif r.kind == "campaign":
            row = deltas.campaigns[r.a, "", r.day]
            for i, v in enumerate((r.v1, r.v2, r.v3, r.v4, r.v5)):
                row[i] += int(v)
        else:
            deltas.stores[r.a, r.b, r.c, r.day] += int(r.v1)
    return ids


def summarize(conn: Connection) -> None:
    """PostgreSQL: summarize the BRIN ranges filled since the last time, so a fold's or a report's range
    scan reads only the pages past them (autovacuum does it too, with autosummarize, when it gets there)."""
    if _pg(conn):
        conn.execute(
            text(
                "SELECT brin_summarize_new_values('ix_redemption_codes_seq'::regclass), "
                "brin_summarize_new_values('ix_events_seq'::regclass)"
            )
        )


def _reset(conn: Connection, state: State, timezone: str, now: datetime) -> None:
    """The shop's time zone changed: the days are other days, so everything is folded again."""
    changed = conn.execute(
        update(measure_watermark)
        .where(measure_watermark.c.id == 1, measure_watermark.c.timezone == state.timezone)
        .values(
            timezone=timezone,
            codes=0,
            events=0,
            adjustments=0,
            pending_codes=None,
            pending_events=None,
            pending_adjustments=None,
            updated_at=now,
        )  # fmt: skip
        .returning(measure_watermark.c.id)
    ).first()
    if changed is not None:
        conn.execute(delete(campaign_daily))
        conn.execute(delete(store_daily))


def tail(conn: Connection, timezone: str, now: datetime, state: State | None = None) -> Deltas:
    """What the facts past the watermarks add to the roll-ups, computed and not written."""
    state = state or read_state(conn, timezone, now)
    deltas = Deltas()
    if state.timezone != timezone:  # not folded in this zone yet: everything is tail
        state = State(timezone, Watermarks(0, 0, 0), None, now)
    for facts in _facts(conn, _affected(conn, state.marks, EVERYTHING), ZoneInfo(timezone)):
        deltas.change(facts, state.marks, EVERYTHING)
    return deltas


def _apply(conn: Connection, deltas: Deltas) -> None:
    campaigns_, stores = deltas.nonzero()
    module = postgresql if _pg(conn) else sqlite
    if campaigns_:
        stmt = module.insert(campaign_daily)
        stmt = stmt.on_conflict_do_update(
            index_elements=["campaign_id", "variant", "day"],
            set_={
                name: getattr(campaign_daily.c, name) + getattr(stmt.excluded, name)
                for name in ("redeemed", "orders", "revenue", "cost_platform", "cost_store")
            },
        )
        rows = [
            {
                "campaign_id": c,
                "variant": v,
                "day": d.isoformat(),
                "redeemed": m[0],
                "orders": m[1],
                "revenue": m[2],
                "cost_platform": m[3],
                "cost_store": m[4],
            }  # fmt: skip
            for (c, v, d), m in sorted(campaigns_.items())
        ]
        conn.execute(stmt, rows)
    if stores:
        stmt = module.insert(store_daily)
        stmt = stmt.on_conflict_do_update(
            index_elements=["campaign_id", "store_id", "borne_by", "day"],
            set_={"discount": store_daily.c.discount + stmt.excluded.discount},
        )
        rows = [
            {"campaign_id": c, "store_id": s, "borne_by": b, "day": d.isoformat(), "discount": amount}
            for (c, s, b, d), amount in sorted(stores.items())
        ]
        conn.execute(stmt, rows)


# --- reading the facts of the redemptions a range touches ---------------------------------------


def _affected(conn: Connection, lo: Watermarks, hi: Watermarks) -> list[str]:
    """The redemptions with a fact in (lo, hi]: one round trip."""
    seq = _seq(conn)
    ids = conn.execute(
        text(
            f"SELECT redemption_id FROM redemption_codes WHERE {seq} > :lo_c AND {seq} <= :hi_c "
            "UNION SELECT redemption_id FROM measure_adjustments WHERE seq > :lo_a AND seq <= :hi_a "
            "UNION SELECT r.id FROM events e JOIN redemptions r ON r.order_id = e.ref "
            f"WHERE e.type = 'order.completed' AND e.{seq} > :lo_e AND e.{seq} <= :hi_e"
        ),
        {
            "lo_c": lo.codes,
            "hi_c": hi.codes,
            "lo_a": lo.adjustments,
            "hi_a": hi.adjustments,
            "lo_e": lo.events,
            "hi_e": hi.events,
        },  # fmt: skip
    ).scalars()
    return sorted(set(ids))


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield list(items[start : start + CHUNK])


def _facts(conn: Connection, ids: Sequence[str], zone: ZoneInfo) -> Iterator[RedemptionFacts]:
    for chunk in _chunks(ids):
        yield from _chunk_facts(conn, chunk, zone)


def _in(conn: Connection, sql: str, values: Iterable[str], **params: Any) -> list[Any]:
    """Run `sql` whose `IN (:values)` takes the values as one parameter (an array on PostgreSQL, a JSON
    list on SQLite): hundreds of bound parameters cost more to parse than the query costs to run."""
    listed = sorted(set(values))
    if not listed:
        return []
    if _pg(conn):
        sql = sql.replace(" IN (:values)", " = ANY(:values)")
        return conn.execute(text(sql), {"values": listed, **params}).all()
    sql = sql.replace("(:values)", "(SELECT value FROM json_each(:values))")
    return conn.execute(text(sql), {"values": json.dumps(listed), **params}).all()


def _chunk_facts(conn: Connection, ids: list[str], zone: ZoneInfo) -> list[RedemptionFacts]:
    seq = _seq(conn)
    heads = {
        r.id: r
        for r in _in(
            conn,
            f"SELECT id, order_id, customer_id, created_at, {_json(conn, 'result', 'total')} AS total "
            "FROM redemptions WHERE id IN (:values)",
            ids,
        )
    }
    codes: dict[str, list[CodeFact]] = defaultdict(list)
    for r in _in(
        conn,
        f"SELECT redemption_id, {seq} AS seq, code, campaign_id, issuer, discount, shipping_discount "
        "FROM redemption_codes WHERE redemption_id IN (:values)",
        ids,
    ):
        codes[r.redemption_id].append(
            CodeFact(
                int(r.seq), r.code, r.campaign_id, r.issuer == "platform", r.discount, r.shipping_discount
            )
        )
    lines: dict[str, list[LineFact]] = defaultdict(list)
    for r in _in(
        conn,
        "SELECT redemption_id, code, line_id, store_id, borne_by, quantity, discount "
        "FROM redemption_lines WHERE redemption_id IN (:values)",
        ids,
    ):
        lines[r.redemption_id].append(
            LineFact(r.code, r.line_id, r.store_id or "", r.borne_by, r.quantity, r.discount)
        )
    adjustments: dict[str, list[Adjustment]] = defaultdict(list)
    for r in _in(
        conn,
        "SELECT redemption_id, seq, kind, line_id, quantity FROM measure_adjustments "
        "WHERE redemption_id IN (:values)",
        ids,
    ):
        adjustments[r.redemption_id].append(Adjustment(int(r.seq), r.kind, r.line_id, r.quantity))
    orders = {h.order_id for h in heads.values()}
    completed = {
        r.ref: (int(r.seq), r.amount)
        for r in _in(
            conn,
            f"SELECT ref, {seq} AS seq, {_json(conn, 'payload', 'amount')} AS amount FROM events "
            "WHERE type = 'order.completed' AND ref IN (:values)",
            orders,
        )
        if r.amount is not None
    }
    customers = {h.customer_id for h in heads.values() if h.customer_id}
    assigned: dict[tuple[str, str], tuple[str, datetime]] = {}
    involved = {c.campaign_id for cs in codes.values() for c in cs}
    for r in _in(
        conn,
        "SELECT campaign_id, customer_id, variant, assigned_at FROM variant_assignments "
        "WHERE customer_id IN (:values)",
        customers,
    ):
        if r.campaign_id in involved:
            assigned[r.campaign_id, r.customer_id] = (r.variant, _aware(r.assigned_at))
    refunded = [i for i in ids if any(a.kind == "refund" for a in adjustments.get(i, ()))]
    paid = _paid_lines(conn, refunded)
    out = []
    for rid in ids:
        head = heads.get(rid)
        if head is None or not codes.get(rid):
            continue
        created_at = head.created_at
        if isinstance(created_at, str):  # text() on SQLite gives the stored text back
            created_at = datetime.fromisoformat(created_at)
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        variants = {}
        for c in codes[rid]:
            found = assigned.get((c.campaign_id, head.customer_id))
            if found is not None and found[1] <= created_at:
                variants[c.campaign_id] = found[0]
        line_paid, quantities = paid.get(rid, ({}, {}))
        out.append(
            RedemptionFacts(
                day=created_at.astimezone(zone).date(),
                base_revenue=int(head.total or 0),
                codes=tuple(sorted(codes[rid], key=lambda c: c.seq)),
                lines=tuple(lines.get(rid, ())),
                adjustments=tuple(adjustments.get(rid, ())),
                event=completed.get(head.order_id),
                paid=line_paid,
                quantities=quantities,
                variants=variants,
            )
        )
    return out


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _paid_lines(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
    """For refunded redemptions: each line's amount after discounts and its units (from the stored
    validation body and the per-line rows)."""
    out: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
    for r in _in(conn, "SELECT id, result FROM redemptions WHERE id IN (:values)", ids):
        result = json.loads(r.result) if isinstance(r.result, str) else r.result
        out[r.id] = (
            {ln["id"]: int(ln["amount"]) - int(ln["discount"]) for ln in result.get("lines", ())},
            {},
        )
    for r in _in(
        conn,
        "SELECT redemption_id, line_id, quantity FROM redemption_lines WHERE redemption_id IN (:values)",
        ids,
    ):
        out[r.redemption_id][1][r.line_id] = r.quantity
    return out
