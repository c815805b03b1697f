"""Auto-apply: the combination of a customer's wallet coupons that saves the most.

Trying every subset and order is exponential, and this runs at checkout, so:
1. every coupon is first priced alone; refused ones are dropped, and each keeps its standalone value
   (discount + shipping discount). One whose budget cannot pay for that value is kept for company,
   where it may take less (after earlier layers) and fit;
2. an exclusive coupon can only be used alone, so it competes as a singleton;
3. the rest are grouped by stacking slot (layer, issuer), of which a cart takes at most one coupon
   each, and only the best few of each group by standalone value are kept (those that fit their
   budget alone first);
4. a depth-first branch and bound takes one or none from each group, in application order. A coupon
   never saves more in company than alone (it applies to what is left), so a branch whose savings so
   far plus the best standalone values of the groups still open cannot beat the best found is cut.
   Within a layer the request order matters (a platform coupon spread over every line first may leave
   a store coupon less to take, and a percent takes less of what a store coupon left), so the search
   runs once per order of the groups within each layer, the plain order first.
   A cap on benefit evaluations, shared by those runs, bounds the worst case.
The best single coupon is the starting point, so the answer is never worse than any coupon alone.
Ties go to fewer coupons, then to coupons earlier in the wallet.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby, islice, permutations, product

from couponry.domain.benefits import discount
from couponry.domain.cart import Cart
from couponry.domain.coupon import CouponSnapshot, CustomerProfile
from couponry.domain.eligibility import Eligible, check
from couponry.domain.outcomes import PricingResult
from couponry.domain.pricing import application_layer, fits_budget, price
from couponry.domain.rules import Stacking

TOP_PER_GROUP = 3
MAX_EVALUATIONS = 300
MAX_ORDERS = 24


@dataclass(frozen=True, slots=True)
class _Option:
    position: int  # in the wallet
    eligible: Eligible
    value: int  # saved when used alone
    fits_alone: bool  # within its campaign's budget alone; in company it may take less and fit


@dataclass(slots=True)
class _Best:
    value: int = 0
    positions: tuple[int, ...] = ()

    def offer(self, value: int, positions: tuple[int, ...]) -> None:
        ranked = sorted(positions)
        mine = sorted(self.positions)
        if (value, -len(ranked), [-p for p in ranked]) > (self.value, -len(mine), [-p for p in mine]):
            self.value, self.positions = value, positions


def best_combination(
    cart: Cart, wallet: Sequence[CouponSnapshot], customer: CustomerProfile | None, now: datetime
) -> PricingResult:
    """price() of the wallet coupons that together save the most (only those appear in `codes`)."""
    options = _standalone(cart, wallet, customer, now)
    best = _Best()
    for option in options:
        if option.fits_alone:
            best.offer(option.value, (option.position,))
    groups = _groups([o for o in options if o.eligible.coupon.rules.stacking != Stacking.EXCLUSIVE])
    if len(groups) > 1:
        evaluations = [MAX_EVALUATIONS]
        for ordered in islice(_orders_within_layers(groups), MAX_ORDERS):
            _search(cart, ordered, best, evaluations)
    return price(cart, [wallet[p] for p in best.positions], customer, now)


def _standalone(
    cart: Cart, wallet: Sequence[CouponSnapshot], customer: CustomerProfile | None, now: datetime
) -> list[_Option]:
    originals = cart.amounts
    seen: set[str] = set()
    options = []
    for position, coupon in enumerate(wallet):
        if coupon.code in seen:
            continue
        seen.add(coupon.code)
        eligible = check(coupon, cart, customer, now)
        if not isinstance(eligible, Eligible):
            continue
        parts, shipping_off = discount(eligible, cart.lines, originals, cart.shipping)
        value = sum(parts) + shipping_off
        fits_alone = fits_budget(coupon, value)
        exclusive = coupon.rules.stacking == Stacking.EXCLUSIVE
        if value > 0 and (fits_alone or not exclusive):
            options.append(_Option(position, eligible, value, fits_alone))
    return options


def _groups(options: list[_Option]) -> list[list[_Option]]:
    """The best few options per stacking slot, slots in application order (then wallet order)."""
    by_slot: dict[tuple[Stacking, str], list[_Option]] = {}
    for option in options:
        rules = option.eligible.coupon.rules
        by_slot.setdefault((rules.stacking, rules.issuer.key), []).append(option)
    groups = [
        sorted(group, key=lambda o: (not o.fits_alone, -o.value, o.position))[:TOP_PER_GROUP]
        for group in by_slot.values()
    ]
    return sorted(groups, key=lambda g: application_layer(g[0].eligible.coupon.rules))


def _orders_within_layers(groups: list[list[_Option]]) -> Iterator[list[list[_Option]]]:
    """The groups in application order, with every order of the groups that share a layer."""
    layers = [
        list(same) for _, same in groupby(groups, key=lambda g: application_layer(g[0].eligible.coupon.rules))
    ]
    for chosen in product(*(permutations(layer) for layer in layers)):
        yield [group for layer in chosen for group in layer]


def _search(cart: Cart, groups: list[list[_Option]], best: _Best, evaluations: list[int]) -> None:
    """Branch and bound over one-or-none per group; the chosen positions come out in the order the
    groups are given, which is also the request order price() needs to reproduce the same discounts.
    `evaluations` is the budget of benefit evaluations left, shared with other runs."""
    lines = cart.lines
    bound_from = [0] * (len(groups) + 1)
    for g in range(len(groups) - 1, -1, -1):
        bound_from[g] = bound_from[g + 1] + max(o.value for o in groups[g])

    def visit(g: int, remaining: list[int], shipping_left: int, saved: int, chosen: tuple[int, ...]) -> None:
        if saved + bound_from[g] < best.value:
            return
        if g == len(groups):
            best.offer(saved, chosen)
            return
        for option in groups[g]:
            if evaluations[0] <= 0:
                break
            evaluations[0] -= 1
            parts, shipping_off = discount(option.eligible, lines, remaining, shipping_left)
            gained = sum(parts) + shipping_off
            if gained == 0:
                continue  # saves nothing here: leaving it out does as well with one coupon fewer
            if not fits_budget(option.eligible.coupon, gained):
                continue  # its budget cannot pay for what it takes here
            rest = remaining.copy()
            for line_index, part in zip(option.eligible.lines, parts, strict=True):
                rest[line_index] -= part
            visit(g + 1, rest, shipping_left - shipping_off, saved + gained, (*chosen, option.position))
        visit(g + 1, remaining, shipping_left, saved, chosen)

    visit(0, list(cart.amounts), cart.shipping, 0, ())
