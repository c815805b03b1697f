"""The schema. Counters that money depends on live in columns so a conditional UPDATE can guard them.

Usage counters are split into redeemed and held (live reservations); a limit is checked against
their sum inside the UPDATE that takes a unit, so no two transactions can both take the last one.
"""

from __future__ import annotations

from datetime import UTC as UTC_ZONE

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite stores naive text, so the zone is put back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetimes are not stored; use UTC")
            value = value.astimezone(UTC_ZONE)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):  # noqa: ANN001
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC_ZONE)
        return value


UTC = UTCDateTime()

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("issuer_type", String(16), nullable=False),
    Column("store_id", String(100), index=True),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("stacking", String(16), nullable=False),
    Column("definition", JSON, nullable=False),  # discount, scope, conditions, validity, code_config
    Column("max_redemptions", Integer),
    Column("budget", BigInteger),
    Column("per_coupon", Integer),
    Column("per_customer", Integer),
    Column("created_at", UTC, nullable=False),
    Column("updated_at", UTC, nullable=False),
    # how many campaign_limit_slots rows count this campaign's uses: 0 without a campaign-wide limit
    Column("limit_slots", SmallInteger, nullable=False, server_default="0"),
    Column("is_public", Boolean, nullable=False, server_default="0"),  # listed in the public feed
)

# The normalized code is the primary key: one index enforces uniqueness across the whole system.
# campaign_id carries no foreign key: checking one costs ~3.5 s per million codes bulk-loaded on
# PostgreSQL, and coupons are only ever written for a campaign read in the same transaction (campaigns
# are archived, never deleted).
coupons = Table(
    "coupons",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("display_code", String(64), nullable=False),
    Column("campaign_id", String(32), nullable=False, index=True),
    Column("customer_id", String(100)),
    Column("issued_at", UTC, nullable=False),
    # counted only while the campaign has a per-coupon limit (they guard it); zero otherwise, when a
    # coupon's uses come from its redemptions (so a hot open code locks no coupon row)
    Column("redeemed_count", Integer, nullable=False, server_default="0"),
    Column("held_count", Integer, nullable=False, server_default="0"),
    Index(
        "ix_coupons_customer_id",
        "customer_id",
        postgresql_where=text("customer_id IS NOT NULL"),
        sqlite_where=text("customer_id IS NOT NULL"),
    ),
)

customer_usage = Table(
    "customer_usage",
    metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("customer_id", String(100), primary_key=True),
    Column("redeemed_count", Integer, nullable=False, server_default="0"),
    Column("held_count", Integer, nullable=False, server_default="0"),
)

# PostgreSQL: the customer's and the loyalty account's rows change with every order (counters,
# balances) and no index covers the changed columns, so room left on each page lets the new version stay
# on the page (a HOT update) without a new entry in every index of the table. Measured with the two
# index changes of migration 0015: 4-6 % more order statements per second (pgbench, one client).
UPDATED_PER_ORDER_FILLFACTOR = 90

customers = Table(
    "customers",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("email", String(320)),
    Column("name", String(200)),
    Column("birthday", String(10)),
    Column("tags", JSON, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("marketing_consent", Boolean, nullable=False, server_default="0"),
    Column("order_count", Integer, nullable=False, server_default="0"),
    Column("total_spent", BigInteger, nullable=False, server_default="0"),
    Column("created_at", UTC, nullable=False),
    Column("updated_at", UTC, nullable=False),
    postgresql_with={"fillfactor": UPDATED_PER_ORDER_FILLFACTOR},
)

# (type, ref) is unique: the same event delivered twice counts once.
events = Table(
    "events",
    metadata,
    Column("type", String(50), primary_key=True),
    Column("ref", String(200), primary_key=True),
    Column("customer_id", String(100)),
    Column("payload", JSON, nullable=False),
    Column("received_at", UTC, nullable=False),
)

redemptions = Table(
    "redemptions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("order_id", String(200), nullable=False, index=True),
    Column("customer_id", String(100)),
    Column("status", String(16), nullable=False),  # succeeded | rolled_back
    Column("reservation_id", String(32), unique=True),
    Column("currency", String(3), nullable=False),
    Column("result", JSON, nullable=False),  # the validation body at redemption time
    Column("channel", String(16), nullable=False),
    Column("created_at", UTC, nullable=False),
    Column("rolled_back_at", UTC),
    Column("rollback_reason", String(200)),
)

redemption_codes = Table(
    "redemption_codes",
    metadata,
    Column("redemption_id", String(32), ForeignKey("redemptions.id"), primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("campaign_id", String(32), nullable=False, index=True),
    Column("order_id", String(200), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("issuer", String(110), nullable=False),
    Column("discount", BigInteger, nullable=False),
    Column("shipping_discount", BigInteger, nullable=False),
    Column("returned", BigInteger, nullable=False, server_default="0"),
    Column("created_at", UTC, nullable=False),
    # an order redeems a code once; a rolled-back redemption frees the pair again
    Index(
        "uq_redemption_codes_code_order",
        "code",
        "order_id",
        unique=True,
        postgresql_where=text("active"),
        sqlite_where=text("active"),
    ),
)

# One row per code and cart line: the allocation, who bears it, and what partial refunds gave back.
redemption_lines = Table(
    "redemption_lines",
    metadata,
    Column("redemption_id", String(32), primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("line_id", String(100), primary_key=True),
    Column("store_id", String(100)),
    Column("borne_by", String(110), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("discount", BigInteger, nullable=False),
    Column("refunded_quantity", Integer, nullable=False, server_default="0"),
    Column("returned", BigInteger, nullable=False, server_default="0"),
)

reservations = Table(
    "reservations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("order_id", String(200), nullable=False, index=True),
    Column("customer_id", String(100)),
    Column("status", String(16), nullable=False),  # held | consumed | released | expired
    Column("codes", JSON, nullable=False),  # [{code, campaign_id, discount}]
    Column("result", JSON, nullable=False),
    Column("cart", JSON, nullable=False),
    Column("expires_at", UTC, nullable=False, index=True),
    Column("created_at", UTC, nullable=False),
    # who may confirm or release the hold: the key that made it, or any key of its store (if a store key)
    Column("created_by", String(32)),
    Column("store_id", String(100)),
)

# Keyed per API key: two clients choosing the same key never see each other's answers.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("api_key_id", String(32), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("endpoint", String(100), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),
    Column("response", JSON),
    Column("created_at", UTC, nullable=False, index=True),  # for purging keys past their retention
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("store_id", String(100)),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", UTC, nullable=False),
    Column("revoked_at", UTC),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(50), nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | succeeded | failed
    Column("params", JSON, nullable=False),
    Column("done", BigInteger, nullable=False, server_default="0"),
    Column("total", BigInteger, nullable=False, server_default="0"),
    Column("error", Text),
    Column("created_at", UTC, nullable=False),
    Column("started_at", UTC),
    Column("finished_at", UTC),
    Column("heartbeat_at", UTC),
    # the lease of the worker running the job: its token fences every write it makes, and once the lease
    # has expired (the worker died) another worker takes the job over and continues from `done`
    Column("lease_owner", String(32)),
    Column("lease_expires_at", UTC),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Index("ix_jobs_status_created", "status", "created_at"),
)

# The transactional outbox: what must leave the system (a webhook event, an e-mail) is written here in
# the transaction that caused it and delivered afterwards, so a crash between the two loses nothing and
# a rolled-back cause sends nothing. `dedupe_key` makes "send this once" a unique constraint.
outbox = Table(
    "outbox",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),  # event (webhooks) | mail
    Column("type", String(100), nullable=False),  # event type (coupon.issued) or mail template
    Column("customer_id", String(100)),  # the recipient of a mail
    Column("payload", JSON, nullable=False),
    Column("dedupe_key", String(300), unique=True),
    # mail: pending | sending (leased until available_at) | delivered | skipped | failed
    # event: pending | dispatched (one webhook_deliveries row per subscribed endpoint)
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("available_at", UTC, nullable=False),  # not before: the next attempt, after a backoff
    Column("created_at", UTC, nullable=False),
    Column("delivered_at", UTC),
    Column("last_error", Text),
    Index("ix_outbox_status_available", "status", "available_at"),
)

# --- reaching customers: profile columns, segments, publications -----------------------------------
# Customers gain sign-up and last-order times (time rules of segments read them), a referral code of
# their own (a namespace of its own: never a coupon code) and who referred them.
customers.append_column(Column("signed_up_at", UTC))  # NULL until the first PUT (events may come first)
customers.append_column(Column("last_order_at", UTC))
customers.append_column(Column("referral_code", String(32), unique=True))
customers.append_column(Column("referred_by", String(32)))  # the inviter's referral code
customers.append_column(Column("referrer_id", String(100), index=True))  # the inviter's customer id

# A segment is immutable: its rules (data, see domain/segments.py) are evaluated in SQL when used.
segments = Table(
    "segments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("match", String(8), nullable=False),  # all | any
    Column("rules", JSON, nullable=False),
    Column("created_at", UTC, nullable=False),
)

publications = Table(
    "publications",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("campaign_id", String(32), nullable=False, index=True),
    Column("segment_id", String(32)),
    Column("customer_ids", JSON),  # the list a publication was given instead of a segment
    Column("notify", Boolean, nullable=False),
    Column("job_id", String(32), nullable=False),
    Column("issued", Integer, nullable=False, server_default="0"),
    Column("created_at", UTC, nullable=False),
)

# One row per customer a campaign was published to: the primary key is what makes "never a second
# coupon of this campaign from a publication" hold when two publications run at once.
published_coupons = Table(
    "published_coupons",
    metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("customer_id", String(100), primary_key=True),
    Column("code", String(64), nullable=False),
    Column("publication_id", String(32), nullable=False),
    Column("issued_at", UTC, nullable=False),
    Index("ix_published_coupons_publication", "publication_id", "customer_id"),  # the CSV export
)

# One row (id 1) whose counter goes up with every key revocation: each server process reads it with its
# key look-ups and forgets the keys it has cached when it changed, so a revoked key is refused everywhere
# within the cache's freshness window (services/access/keys.py).
api_key_revocations = Table(
    "api_key_revocations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("counter", BigInteger, nullable=False),
)


# One row per scheduled job and period: whoever inserts it runs that period, so a job runs once per period
# however many processes tick, and a second tick in the same period finds the row and does nothing.
scheduled_runs = Table(
    "scheduled_runs",
    metadata,
    Column("job", String(100), primary_key=True),
    Column("scheduled_for", UTC, primary_key=True),  # the start of the period this run covers
    Column("status", String(16), nullable=False),  # running | succeeded | failed
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("started_at", UTC, nullable=False),
    Column("finished_at", UTC),
    Column("error", Text),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", JSON, nullable=False),
    Column("secret", String(100), nullable=False),  # needed in clear to sign; shown once, at creation
    Column("created_at", UTC, nullable=False),
    Column("deleted_at", UTC),  # kept for the deliveries that name it
)

# One row per (event, endpoint): its own attempts, backoff and outcome.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("event_id", String(32), nullable=False),  # outbox.id: the `id` receivers dedupe on
    Column("webhook_id", String(32), nullable=False, index=True),
    Column("status", String(16), nullable=False),  # pending | sending | delivered | failed | cancelled
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("available_at", UTC, nullable=False),
    Column("last_status", Integer),  # the receiver's last HTTP status, if it answered
    Column("last_error", Text),
    Column("created_at", UTC, nullable=False),
    Column("delivered_at", UTC),
    UniqueConstraint("event_id", "webhook_id", name="uq_webhook_deliveries_event_webhook"),
    Index("ix_webhook_deliveries_status_available", "status", "available_at"),
)

# Secrets the processes of one installation must share (the unsubscribe-link key when
# COUPONRY_SECRET_KEY is not set): the first process to start inserts it, every other one reads it.
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UTC, nullable=False),
)

# A campaign-wide limit (max_redemptions, budget) and the usage it guards, spread over K rows ("slots",
# campaigns.limit_slots) so that concurrent redemptions of one hot campaign lock different rows. A slot's
# uses_left / budget_left is the share of the remaining quota it may hand out without looking at the
# others (NULL: no such limit); its counters are its share of the campaign's usage (only their sums mean
# anything, and one slot's may be negative). See adapters/db/limit_slots.py.
campaign_limit_slots = Table(
    "campaign_limit_slots",
    metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("slot", SmallInteger, primary_key=True),
    Column("uses_left", Integer),
    Column("budget_left", BigInteger),
    Column("redeemed_count", Integer, nullable=False, server_default="0"),
    Column("held_count", Integer, nullable=False, server_default="0"),
    Column("budget_used", BigInteger, nullable=False, server_default="0"),
    Column("budget_held", BigInteger, nullable=False, server_default="0"),
)

# --- coupon center: claim offers and claims -------------------------------------------------------
# A campaign's claim offer and its stock counter, the row every claim of a hot campaign queues on (so
# nothing else lives on it). The CHECK is the stock itself: no transaction can commit claimed > stock.
claim_offers = Table(
    "claim_offers",
    metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("stock", Integer),  # NULL: no limit
    Column("claimed", Integer, nullable=False, server_default="0"),
    Column("per_customer", Integer, nullable=False),
    Column("starts_at", UTC),
    Column("ends_at", UTC),
    Column("products", JSON, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("updated_at", UTC, nullable=False),
    CheckConstraint("stock IS NULL OR claimed <= stock", name="stock"),
)

# One row per coupon claimed; `n` counts a customer's claims of a campaign from 1 and never passes the
# offer's per_customer (the INSERT's own condition), and the primary key makes each n happen once.
claims = Table(
    "claims",
    metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("customer_id", String(100), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("code", String(64), nullable=False),
    Column("claimed_at", UTC, nullable=False),
)

# --- triggers and referrals ------------------------------------------------------------------------
# A trigger is never deleted, only marked: its rewards name it (and a welcome.unused trigger reads them).
triggers = Table(
    "triggers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("event", String(32), nullable=False, index=True),
    Column("campaign_ids", JSON, nullable=False),
    Column("min_amount", BigInteger),
    Column("per_customer", Integer, nullable=False),
    Column("after_trigger_id", String(32)),  # welcome.unused: the first package's trigger
    Column("days", Integer),  # welcome.unused: days after the first package
    Column("created_at", UTC, nullable=False),
    Column("deleted_at", UTC),
)

# One row per reward. The primary key (trigger, customer, period, slot) with slot in 1..per_customer is
# the per-customer cap; the unique occasion makes the same event (or the same year's birthday) reward
# once however often and wherever it is delivered.
trigger_rewards = Table(
    "trigger_rewards",
    metadata,
    Column("trigger_id", String(32), primary_key=True),
    Column("customer_id", String(100), primary_key=True),
    Column("period", String(8), primary_key=True),  # "" (the trigger's life) or the year
    Column("slot", Integer, primary_key=True),
    Column("occasion", String(300), nullable=False),
    Column("codes", JSON, nullable=False),  # the stored codes issued for this reward
    Column("rewarded_at", UTC, nullable=False),
    UniqueConstraint("trigger_id", "customer_id", "occasion", name="uq_trigger_rewards_occasion"),
)

# The referral program: one row (id 1).
referral_program = Table(
    "referral_program",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("reward_on", String(16), nullable=False),  # signup | first_order
    Column("inviter_campaign_id", String(32)),
    Column("invitee_campaign_id", String(32)),
    Column("inviter_points", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", UTC, nullable=False),
)

# One row per rewarded invitee: the primary key is "each side is rewarded once".
referral_rewards = Table(
    "referral_rewards",
    metadata,
    Column("invitee_id", String(100), primary_key=True),
    Column("inviter_id", String(100), nullable=False, index=True),
    Column("reward_on", String(16), nullable=False),
    Column("order_id", String(200)),  # the qualifying first order (reward_on first_order)
    Column("inviter_code", String(64)),
    Column("invitee_code", String(64)),
    Column("inviter_points", BigInteger, nullable=False),  # credited to the inviter's points ledger
    Column("rewarded_at", UTC, nullable=False),
)

# People who sign in to the web pages (services/access/users.py); API keys stay for machines.
users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # stored lower-cased
    Column("password_hash", String(200), nullable=False),  # argon2id, PHC string
    Column("role", String(16), nullable=False),  # admin | store | pos
    Column("store_id", String(100)),
    Column("created_at", UTC, nullable=False),
    Column("disabled_at", UTC),
)

# Signed-in browsers: the row is the session; the cookie carries a random token whose SHA-256 is the id,
# so a stolen database does not hand out sessions, and signing out deletes the row.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("created_at", UTC, nullable=False),
    Column("expires_at", UTC, nullable=False, index=True),
)

# --- measuring: A/B assignments, roll-ups and what they have folded -----------------------------------
# Facts the roll-ups fold carry a sequence number: redemption codes and events an identity column on
# PostgreSQL (indexed with BRIN, which costs an insert next to nothing), their rowid on SQLite (writers
# are serialized there, so rowids grow in commit order and the column stays empty).
redemption_codes.append_column(Column("seq", BigInteger, Identity()))
events.append_column(Column("seq", BigInteger, Identity()))
for _table in (redemption_codes, events):  # an empty partial index on SQLite: no work there either
    Index(
        f"ix_{_table.name}_seq",
        _table.c.seq,
        postgresql_using="brin",
        postgresql_with={"pages_per_range": 16, "autosummarize": "on"},
        sqlite_where=text("seq IS NOT NULL"),
    )

# A customer's arm of an A/B campaign, drawn once when a coupon is first issued or claimed for them.
variant_assignments = Table(
    "variant_assignments",
    metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("customer_id", String(100), primary_key=True),
    Column("variant", String(50), nullable=False),
    Column("assigned_at", UTC, nullable=False),
    Index("ix_variant_assignments_campaign_variant", "campaign_id", "variant", "assigned_at"),
)

# Rollbacks as facts: one row per whole rollback or per refunded line, written by the rollback.
measure_adjustments = Table(
    "measure_adjustments",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("redemption_id", String(32), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # rollback | refund
    Column("line_id", String(100)),
    Column("quantity", Integer, nullable=False, server_default="0"),
    Column("created_at", UTC, nullable=False),
)

# One row (id 1): how far the roll-ups have folded each kind of fact, and (PostgreSQL) the ends seen by
# the previous fold, safe to fold once every transaction of this database running then has finished.
measure_watermark = Table(
    "measure_watermark",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("timezone", String(64), nullable=False),  # the days of the roll-ups are days there
    Column("codes", BigInteger, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("adjustments", BigInteger, nullable=False),
    Column("pending_codes", BigInteger),
    Column("pending_events", BigInteger),
    Column("pending_adjustments", BigInteger),
    Column("updated_at", UTC, nullable=False),  # PostgreSQL: when the pending ends were read (its clock)
)

campaign_daily = Table(
    "campaign_daily",
    metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("variant", String(50), primary_key=True),  # "" outside any variant
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD in the shop's time zone
    Column("redeemed", BigInteger, nullable=False),
    Column("orders", BigInteger, nullable=False),
    Column("revenue", BigInteger, nullable=False),
    Column("cost_platform", BigInteger, nullable=False),
    Column("cost_store", BigInteger, nullable=False),
)

store_daily = Table(
    "store_daily",
    metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("store_id", String(100), primary_key=True),  # "" for lines without a store
    Column("borne_by", String(110), primary_key=True),  # platform or the issuing store's id
    Column("day", String(10), primary_key=True),
    Column("discount", BigInteger, nullable=False),
    Index("ix_store_daily_day", "day"),
)

# --- loyalty ---------------------------------------------------------------------------------------
# Ledger ids are assigned by the database (set-based maturing inserts thousands of entries at once).
LedgerId = BigInteger().with_variant(Integer, "sqlite")

# The program: one row (id 1); `settings` is domain.loyalty.program_to_json.
loyalty_program = Table(
    "loyalty_program",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("settings", JSON, nullable=False),
    Column("updated_at", UTC, nullable=False),
)
# One row per customer who joined or was credited: membership, and the balances cached for the
# conditional UPDATEs that spend points (`available >= cost`). Every change to them is written in the
# transaction of the ledger entries that make it, so they always equal the ledger's sums.
loyalty_accounts = Table(
    "loyalty_accounts",
    metadata,
    Column("customer_id", String(100), primary_key=True),
    Column("member", Boolean, nullable=False),
    Column("joined_at", UTC),
    Column("left_at", UTC),
    Column("pending", BigInteger, nullable=False, server_default="0"),
    Column("available", BigInteger, nullable=False, server_default="0"),
    Column("lifetime", BigInteger, nullable=False, server_default="0"),
    Column("expiry_checked_until", UTC),  # lots expiring up to here were expired
    Column("statement_month", String(7)),  # the last month a statement was queued for (YYYY-MM)
    Column("updated_at", UTC, nullable=False),
    postgresql_with={"fillfactor": UPDATED_PER_ORDER_FILLFACTOR},
)
# Append-only. Each entry carries the change it makes to each balance (domain.loyalty.changes), so a
# balance is one SUM. Credits to available carry the expiry date of their lot.
points_ledger = Table(
    "points_ledger",
    metadata,
    Column("id", LedgerId, primary_key=True, autoincrement=True),
    Column("customer_id", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("bucket", String(10), nullable=False),  # pending | available: which balance `points` moves
    Column("points", BigInteger, nullable=False),
    Column("pending_change", BigInteger, nullable=False),
    Column("available_change", BigInteger, nullable=False),
    Column("lifetime_change", BigInteger, nullable=False),
    Column("source_type", String(16), nullable=False),  # order reward spin adjustment referral expiry
    Column("source_id", String(200), nullable=False),
    Column("reason", String(500)),
    Column("expires_at", UTC),
    Column("created_at", UTC, nullable=False),
    Index("ix_points_ledger_customer", "customer_id", "id"),
    # expiry looks up credits by date; the other entries (earned ones, every order's) carry none and are
    # left out, so appending them touches one index less
    Index(
        "ix_points_ledger_expires_at",
        "expires_at",
        postgresql_where=text("expires_at IS NOT NULL"),
        sqlite_where=text("expires_at IS NOT NULL"),
    ),
)
# The pending points of one order (a lot). Its order id is unique: an order earns once.
points_lots = Table(
    "points_lots",
    metadata,
    Column("id", LedgerId, primary_key=True, autoincrement=True),
    Column("customer_id", String(100), nullable=False),  # looked up by ix_points_lots_due only
    Column("order_id", String(200), nullable=False, unique=True),
    Column("order_amount", BigInteger, nullable=False),
    Column("earned", BigInteger, nullable=False),
    Column("reversed", BigInteger, nullable=False, server_default="0"),  # taken back while pending
    Column("matured", Boolean, nullable=False, server_default="0"),
    Column("matures_at", UTC, nullable=False),
    Column("expires_at", UTC, nullable=False),
    Column("created_at", UTC, nullable=False),
    # the pending lots only, by customer: the maturing job takes the due lots of a page of customers
    Index(
        "ix_points_lots_due",
        "customer_id",
        "matures_at",
        postgresql_where=text("NOT matured"),
        sqlite_where=text("matured = 0"),
    ),
)
rewards = Table(
    "rewards",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("campaign_id", String(32), nullable=False),
    Column("stock", Integer),  # NULL: unlimited
    Column("issued", Integer, nullable=False, server_default="0"),
    Column("created_at", UTC, nullable=False),
    CheckConstraint("stock IS NULL OR issued <= stock", name="within_stock"),
)
reward_exchanges = Table(
    "reward_exchanges",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("reward_id", String(32), nullable=False, index=True),
    Column("customer_id", String(100), nullable=False, index=True),
    Column("code", String(64)),
    Column("points", BigInteger, nullable=False),
    Column("created_at", UTC, nullable=False),
)
wheels = Table(
    "wheels",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("cost_points", BigInteger, nullable=False),
    Column("free_spins_per_day", Integer, nullable=False),
    Column("created_at", UTC, nullable=False),
)
wheel_prizes = Table(
    "wheel_prizes",
    metadata,
    Column("wheel_id", String(32), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),  # coupon | points | nothing
    Column("campaign_id", String(32)),
    Column("points", BigInteger),
    Column("weight", Integer, nullable=False),
    Column("stock", Integer),  # NULL: unlimited
    Column("given", Integer, nullable=False, server_default="0"),
    CheckConstraint("stock IS NULL OR given <= stock", name="within_stock"),
)
# Free spins used per customer and shop-local day; `used <= free_spins_per_day` is held by the UPDATE.
wheel_free_spins = Table(
    "wheel_free_spins",
    metadata,
    Column("wheel_id", String(32), primary_key=True),
    Column("customer_id", String(100), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("used", Integer, nullable=False, server_default="0"),
)
wheel_spins = Table(
    "wheel_spins",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("wheel_id", String(32), nullable=False, index=True),
    Column("customer_id", String(100), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("code", String(64)),
    Column("points_paid", BigInteger, nullable=False),
    Column("free", Boolean, nullable=False),
    Column("created_at", UTC, nullable=False),
)
