"""Who is calling: the API key's role and store, and what each role may do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from couponry.domain.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    STORE = "store"
    POS = "pos"
    STOREFRONT = "storefront"


class Permission(StrEnum):
    MANAGE_CAMPAIGNS = "manage_campaigns"
    VALIDATE = "validate"
    REDEEM = "redeem"
    RESERVE = "reserve"
    ROLLBACK = "rollback"
    READ_REDEMPTIONS = "read_redemptions"
    WALLET = "wallet"
    MANAGE_CUSTOMERS = "manage_customers"
    SEND_EVENTS = "send_events"
    READ_COUPONS = "read_coupons"
    READ_JOBS = "read_jobs"
    MANAGE_WEBHOOKS = "manage_webhooks"
    READ_METRICS = "read_metrics"
    CLAIM = "claim"  # the coupon center: list what is claimable, claim on a customer's behalf
    MANAGE_TRIGGERS = "manage_triggers"  # triggers and the referral program
    MANAGE_LOYALTY = "manage_loyalty"  # the loyalty program, rewards, wheels, adjustments
    LOYALTY = "loyalty"  # on a customer's behalf: join, leave, read points, exchange, spin


_ALL = frozenset(Permission)
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: _ALL,
    Role.STORE: frozenset(
        {
            Permission.MANAGE_CAMPAIGNS,
            Permission.VALIDATE,
            Permission.REDEEM,
            Permission.RESERVE,
            Permission.ROLLBACK,
            Permission.READ_REDEMPTIONS,
            Permission.READ_COUPONS,
            Permission.READ_JOBS,
            Permission.CLAIM,
        }
    ),
    Role.POS: frozenset(
        {Permission.VALIDATE, Permission.REDEEM, Permission.RESERVE, Permission.READ_COUPONS}
    ),
    Role.STOREFRONT: frozenset(
        {Permission.VALIDATE, Permission.RESERVE, Permission.WALLET, Permission.CLAIM, Permission.LOYALTY}
    ),
}


@dataclass(frozen=True, slots=True)
class Actor:
    key_id: str
    role: Role
    store_id: str | None = None

    def may(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.may(permission):
            raise Forbidden(f"a {self.role} key may not {permission.replace('_', ' ')}")

    def require_store_access(self, store_id: str | None) -> None:
        """Store keys see and change only their own store's campaigns."""
        if self.role is Role.STORE and store_id != self.store_id:
            raise Forbidden("this key belongs to another store")

    @property
    def store_scope(self) -> str | None:
        return self.store_id if self.role is Role.STORE else None


SYSTEM = Actor(key_id="system", role=Role.ADMIN)
