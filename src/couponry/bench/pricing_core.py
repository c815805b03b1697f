"""Latency of the pricing core, without a database or a web server.

    python -m couponry.bench.pricing_core

- best_combination: a 30-line cart over three stores against a 50-coupon wallet of every benefit
  type, layer and issuer (target p99 <= 5 ms);
- price: a 10-line cart with 5 codes that stack (target p99 <= 1.5 ms).
`run()` returns the figures as a dict (milliseconds) so a CLI or CI step can check them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction

from couponry.domain.best import best_combination
from couponry.domain.cart import Cart, CartLine
from couponry.domain.coupon import CouponSnapshot, CustomerProfile
from couponry.domain.pricing import price
from couponry.domain.rules import (
    AmountOff,
    AmountPerItem,
    Benefit,
    CampaignRules,
    Conditions,
    FreeShipping,
    Issuer,
    Limits,
    PercentOff,
    Scope,
    Stacking,
    Tier,
    Tiered,
)

NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
CUSTOMER = CustomerProfile(id="c1", tags=frozenset({"vip"}), order_count=3)
TARGETS_MS = {"best_combination_p99": 5.0, "price_p99": 1.5}


def make_cart(lines: int, rng: random.Random) -> Cart:
    return Cart(
        currency="USD",
        shipping=700,
        lines=tuple(
            CartLine(
                id=str(n),
                unit_price=rng.randrange(300, 9000),
                quantity=rng.randrange(1, 4),
                product_id=f"p{n}",
                category=rng.choice(["shoes", "shirts", "bags", "hats"]),
                brand=rng.choice(["acme", "globex", "initech"]),
                store_id=f"s{n % 3}",
                on_sale=rng.random() < 0.2,
            )
            for n in range(lines)
        ),
    )


def make_wallet(size: int, rng: random.Random) -> list[CouponSnapshot]:
    benefits: list[Benefit] = [
        AmountOff(500),
        AmountPerItem(150, max_items=3),
        PercentOff(Fraction(10), max_amount=3000),
        PercentOff(Fraction(25, 2), max_items=2),
        FreeShipping(),
        Tiered((Tier(5000, 500), Tier(20000, 2500))),
    ]
    wallet = []
    for n in range(size):
        benefit = benefits[n % len(benefits)]
        stacking = Stacking.SHIPPING if isinstance(benefit, FreeShipping) else rng.choice(list(Stacking))
        issuer = rng.choice([Issuer(), Issuer("store", "s0"), Issuer("store", "s1")])
        scope = rng.choice(
            [Scope(), Scope(categories=frozenset({"shoes", "bags"})), Scope(exclude_on_sale=True)]
        )
        rules = CampaignRules(
            id=f"camp{n}",
            currency="USD",
            benefit=benefit,
            issuer=issuer,
            scope=scope,
            conditions=Conditions(
                min_spend=rng.choice([None, 2000, 10000]), customer_tags=frozenset({"vip"})
            ),
            limits=Limits(max_redemptions=1000, per_customer=2, budget=1_000_000),
            stacking=stacking,
        )
        wallet.append(CouponSnapshot(code=f"W{n:03d}", rules=rules, owner_id="c1"))
    return wallet


def percentiles(fn: Callable[[], object], rounds: int) -> dict[str, float]:
    for _ in range(min(50, rounds)):
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    samples.sort()
    return {"p50": samples[len(samples) // 2], "p99": samples[int(len(samples) * 0.99) - 1]}


def run(rounds: int = 1000, seed: int = 7) -> dict[str, float]:
    rng = random.Random(seed)
    big_cart, wallet = make_cart(30, rng), make_wallet(50, rng)
    small_cart = make_cart(10, rng)
    codes = [
        CouponSnapshot("ITEM", CampaignRules("a", "USD", AmountPerItem(100), stacking=Stacking.ITEM)),
        CouponSnapshot("ORDER", CampaignRules("b", "USD", PercentOff(Fraction(15)), stacking=Stacking.ORDER)),
        CouponSnapshot(
            "STORE",
            CampaignRules("c", "USD", AmountOff(700), issuer=Issuer("store", "s1"), stacking=Stacking.ORDER),
        ),
        CouponSnapshot("SHIP", CampaignRules("d", "USD", FreeShipping(), stacking=Stacking.SHIPPING)),
        CouponSnapshot("TIER", CampaignRules("e", "USD", Tiered((Tier(1000, 100),)), stacking=Stacking.ITEM)),
    ]
    best = percentiles(lambda: best_combination(big_cart, wallet, CUSTOMER, NOW), rounds)
    priced = percentiles(lambda: price(small_cart, codes, CUSTOMER, NOW), rounds)
    chosen = best_combination(big_cart, wallet, CUSTOMER, NOW)
    return {
        "best_combination_p50": best["p50"],
        "best_combination_p99": best["p99"],
        "best_combination_codes": len(chosen.codes),
        "best_combination_saving": chosen.discount + chosen.shipping_discount,
        "price_p50": priced["p50"],
        "price_p99": priced["p99"],
    }


def main() -> dict[str, float]:
    figures = run()
    for name, value in figures.items():
        target = TARGETS_MS.get(name)
        suffix = f" ms (target <= {target} ms: {'ok' if value <= target else 'MISSED'})" if target else ""
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{name:26} {shown}{suffix}")
    return figures


if __name__ == "__main__":
    main()
