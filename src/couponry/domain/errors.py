"""The one exception family of Couponry. Every error carries a stable snake_case `code`.

    CouponryError
    ├── InvalidInput                 422  invalid_request: bad input, names the field
    │   ├── InvalidCampaign          422  invalid_campaign
    │   ├── CodeSpaceTooSmall        422  code_space_too_small
    │   └── InvalidSegment           422  invalid_segment
    ├── NotFound                     404  not_found
    ├── Conflict                     409
    │   ├── CodeTaken                409  code_taken
    │   ├── IdempotencyConflict      409  idempotency_conflict
    │   ├── RedemptionRefused        409  redemption_refused (carries each code's reason)
    │   ├── ClaimRefused             409  out_of_stock, claim_limit_reached, claim_not_open, not_claimable
    │   ├── PointsRefused            409  insufficient_points, out_of_stock, not_a_member, no_spins_left
    │   └── InvalidState             409  e.g. already_rolled_back, reservation_not_active
    ├── Unauthorized                 401  unauthorized
    ├── Forbidden                    403  forbidden
    └── Throttled                    429  too_many_requests (carries retry_after)

The HTTP status is chosen in one place, couponry.api.problems; the domain only names the failure.
"""

from __future__ import annotations

from typing import Any


class CouponryError(Exception):
    """Base of every error Couponry raises on purpose."""

    code = "error"
    title = "Error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra


class InvalidInput(CouponryError):
    """Input that is well-formed JSON but cannot be accepted."""

    code = "invalid_request"  # shared/API.md: malformed input is 422 invalid_request naming the field
    title = "Invalid input"

    def __init__(self, field: str, detail: str, *, code: str | None = None) -> None:
        super().__init__(f"{field}: {detail}", code=code, field=field)
        self.field = field


class InvalidCampaign(InvalidInput):
    """A campaign definition that cannot make sense (amount >= threshold, percent > 100 ...)."""

    code = "invalid_campaign"
    title = "Invalid campaign"


class CodeSpaceTooSmall(InvalidInput):
    """A code_config with too few possible codes for the codes requested."""

    code = "code_space_too_small"
    title = "Code space too small"


class InvalidSegment(InvalidInput):
    """A segment rule with an unknown field or operator, or a value of the wrong type."""

    code = "invalid_segment"
    title = "Invalid segment"


class NotFound(CouponryError):
    """No such resource (or not visible to this API key)."""

    code = "not_found"
    title = "Not found"


class Conflict(CouponryError):
    """The request conflicts with the current state."""

    code = "conflict"
    title = "Conflict"


class CodeTaken(Conflict):
    """A vanity code that already exists somewhere in the system."""

    code = "code_taken"
    title = "Code taken"


class IdempotencyConflict(Conflict):
    """The same Idempotency-Key was used with another body."""

    code = "idempotency_conflict"
    title = "Idempotency key reused with another request"


class RedemptionRefused(Conflict):
    """At least one code was refused, so nothing was redeemed."""

    code = "redemption_refused"
    title = "Redemption refused"


class ClaimRefused(Conflict):
    """A coupon-center claim was refused; `code` says why (couponry.domain.claims.ClaimRefusal)."""

    code = "not_claimable"
    title = "Claim refused"


class PointsRefused(Conflict):
    """A loyalty exchange, spin or adjustment was refused; `code` says why (nothing was written)."""

    code = "insufficient_points"
    title = "Refused by the loyalty program"


class InvalidState(Conflict):
    """The resource is not in a state that allows this (already rolled back, hold expired ...)."""

    code = "invalid_state"
    title = "Invalid state"


class Unauthorized(CouponryError):
    """No API key, or an unknown one."""

    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(CouponryError):
    """A known API key whose role or store does not allow this."""

    code = "forbidden"
    title = "Forbidden"


class Throttled(CouponryError):
    """Too many failed code look-ups from one key."""

    code = "too_many_requests"
    title = "Too many requests"
