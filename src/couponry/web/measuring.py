"""What the measuring pages show: a campaign's stats (headline figures, daily charts, the A/B test) and
the reports, read with the same service functions as the API (services/reporting/), for the signed-in
user's actor (a store user is scoped like a store key)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request

from couponry.domain import experiments
from couponry.domain.errors import InvalidInput
from couponry.services.access.users import User
from couponry.services.ids import utcnow
from couponry.services.reporting import stats
from couponry.web.charts import bar_chart
from couponry.web.templating import money
from couponry.web.wording import discount_words

DEFAULT_DAYS = 30

NO_WINNER_WORDS = {
    "not_testable": "there is nothing to compare yet: a variant has no customers issued, or no redemption "
    "has told the variants apart",
    "sample_too_small": "the sample is below the minimum: every variant needs {min_sample:,} customers "
    "issued before a winner is named (the smallest has {smallest:,})",
    "not_significant": "the difference is not significant (p = {p_value:.3f}, at or above 0.05)",
}


def zone_of(request: Request) -> str:
    return request.app.state.settings.shop_timezone


def period_of(request: Request, start: str | None, end: str | None) -> tuple[str, str]:
    """The period asked for, as the form shows it; by default the last 30 days (today included) in the
    shop's time zone."""
    today = utcnow().astimezone(ZoneInfo(zone_of(request))).date()
    end = (end or "").strip() or today.isoformat()
    start = (start or "").strip() or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    return start, end


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def campaign_measures(
    request: Request, user: User, campaign: dict[str, Any], start: str | None, end: str | None
) -> dict[str, Any]:
    """The stats section of a campaign page: {period, error, s (the API's stats body), charts, test}."""
    start, end = period_of(request, start, end)
    out: dict[str, Any] = {"start": start, "end": end, "error": None, "s": None, "charts": [], "test": None}
    try:
        body = stats.campaign_stats(
            request.app.state.db, user.as_actor(), campaign["id"], start, end, zone_of(request), utcnow()
        )
    except InvalidInput as exc:
        out["error"] = f"{exc.field}: {exc.detail.split(': ', 1)[-1]}" if exc.field else exc.detail
        return out
    days = body["daily"]

    def amount(v: int) -> str:
        return money(v)  # the section names the currency once

    out["s"] = body
    out["rates"] = {"redemption_rate": _percent(body["redemption_rate"]), "roi": _percent(body["roi"])}
    out["charts"] = [
        ("redemptions", bar_chart("Daily redemptions", [(d["date"], d["redeemed"]) for d in days])),
        (
            "discount-cost",
            bar_chart(
                "Daily discount cost", [(d["date"], d["discount_cost"]["total"]) for d in days], amount
            ),
        ),
        ("revenue", bar_chart("Daily revenue", [(d["date"], d["revenue"]) for d in days], amount)),
    ]
    out["days_with_data"] = [
        d for d in days if d["redeemed"] or d["orders"] or d["revenue"] or d["discount_cost"]["total"]
    ]
    if body["variants"]:
        out["test"] = ab_test(body)
    return out


def ab_test(body: dict[str, Any]) -> dict[str, Any]:
    """The A/B test in words: each variant's row, the p-value, the winner or why there is none yet."""
    rows = []
    for v in body["variants"]:
        words = (
            "no discount (control)" if v["control"] else discount_words({**v, "currency": body["currency"]})
        )
        rows.append({**v, "words": words, "rate": _percent(v["redemption_rate"])})
    issued = [v["issued"] for v in body["variants"]]
    why = None
    if body["winner"] is None:
        code = experiments.why_no_winner(body["p_value"], issued)
        why = NO_WINNER_WORDS.get(code or "not_testable", "").format(
            min_sample=body["min_sample"], smallest=min(issued), p_value=body["p_value"] or 0.0
        )
    srm = body["srm_p_value"]
    return {
        "rows": rows,
        "p_value": body["p_value"],
        "winner": body["winner"],
        "why": why,
        "compared": body.get("compared"),
        "srm_broken": srm is not None and srm < 0.001,
        "srm_p_value": srm,
    }
