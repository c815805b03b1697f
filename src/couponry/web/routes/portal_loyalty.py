"""The customer's loyalty pages in the portal (reached with the same signed link as the wallet): points
balance and history, joining and leaving, the rewards exchange and the prize wheel.

They act as the portal's storefront actor (services/distribution/portal.PORTAL) through the loyalty
services the API uses, so every rule (too few points, stock, daily free spins) is the API's. A spin's
prize is drawn by the server; the wheel's script (static/js/wheel.js) only turns the wheel to the prize
the answer names. Without JavaScript the form posts and the page comes back with the wheel at rest on
that prize and the result in words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response

from couponry.api.schemas.common import ResourceIdPath
from couponry.domain.errors import NotFound, PointsRefused
from couponry.services.distribution import portal
from couponry.services.distribution.links import coupon_links
from couponry.services.ids import utcnow
from couponry.services.loyalty import program, rewards, views, wheels
from couponry.web import loyalty_form as lf
from couponry.web import security
from couponry.web.routes.portal import PORTAL_NAV, Token, _context, _invalid, _visit
from couponry.web.templating import render

router = security.web_router()
PORTAL_NAV.extend([("/points", "Points"), ("/rewards", "Rewards"), ("/wheel", "Prize wheel")])
ACTOR = portal.PORTAL
SEGMENT_COLOURS = 6  # .wheel-seg-0 … .wheel-seg-5 in public.css


def _points(db: Any, customer_id: str) -> dict[str, Any]:
    try:
        return program.points(db, ACTOR, customer_id, utcnow())
    except NotFound:  # a link to a customer since removed: nothing to show
        return {
            "customer_id": customer_id,
            "member": False,
            "pending": 0,
            "available": 0,
            "lifetime": 0,
            "expiring_soon": [],
        }


def _program(db: Any) -> dict[str, Any] | None:
    try:
        return program.get_program(db, ACTOR)
    except NotFound:
        return None


def _coupon_url(request: Request, code: str, customer_id: str) -> str:
    links = coupon_links(request.app.state.db, request.app.state.settings)
    return portal.same_site(links.url(code, customer_id))


# --- points, joining and leaving --------------------------------------------------------------------


def _points_context(request: Request, customer_id: str) -> dict[str, Any]:
    db = request.app.state.db
    entries = views.recent_entries(db, ACTOR, customer_id, limit=50)
    return {
        "points": _points(db, customer_id),
        "program": _program(db),
        "entries": [{**e, "words": lf.entry_words(e)} for e in entries],
    }


@router.get("/portal/{token}/points")
async def points_page(request: Request, token: Token) -> Response:
    visit = await _visit(request, token)
    if visit is None:
        return _invalid(request)
    extra = await run_in_threadpool(_points_context, request, visit.customer_id)
    return render(request, "portal/points.html", _context(token, visit, "/points", **extra))


@router.post("/portal/{token}/loyalty")
async def join(request: Request, token: Token) -> Response:
    visit = await _visit(request, token)
    if visit is None:
        return _invalid(request)
    await run_in_threadpool(program.join, request.app.state.db, ACTOR, visit.customer_id, utcnow())
    return RedirectResponse(f"{portal.PATH}/{token}/points", status_code=303)


@router.post("/portal/{token}/loyalty/leave")
async def leave(request: Request, token: Token) -> Response:
    visit = await _visit(request, token)
    if visit is None:
        return _invalid(request)
    try:
        await run_in_threadpool(program.leave, request.app.state.db, ACTOR, visit.customer_id, utcnow())
    except NotFound:
        pass  # not a member (a second click): the page shows the join button either way
    return RedirectResponse(f"{portal.PATH}/{token}/points", status_code=303)


# --- rewards ----------------------------------------------------------------------------------------


def _rewards_context(request: Request, customer_id: str) -> dict[str, Any]:
    db = request.app.state.db
    listed = rewards.list_rewards(db, ACTOR)
    return {
        "points": _points(db, customer_id),
        "rewards": listed,
        "offers": views.campaign_offers(db, {r["campaign_id"] for r in listed}),
    }


@router.get("/portal/{token}/rewards")
async def rewards_page(request: Request, token: Token) -> Response:
    visit = await _visit(request, token)
    if visit is None:
        return _invalid(request)
    extra = await run_in_threadpool(_rewards_context, request, visit.customer_id)
    context = _context(token, visit, "/rewards", exchanged=None, refusal=None, **extra)
    return render(request, "portal/rewards.html", context)


def _exchange(request: Request, reward_id: str, customer_id: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        done = rewards.exchange(request.app.state.db, ACTOR, reward_id, customer_id, utcnow())
    except (PointsRefused, NotFound) as refused:
        return None, lf.REFUSAL_WORDS.get(refused.code, "This reward cannot be exchanged now.")
    return {**done, "url": _coupon_url(request, done["code"], customer_id)}, None


@router.post("/portal/{token}/rewards/{reward_id}/exchanges")
async def exchange(request: Request, token: Token, reward_id: ResourceIdPath) -> Response:
    """Points for a coupon; the page comes back with the new balance and the coupon, or why not."""
    visit = await _visit(request, token)
    if visit is None:
        return _invalid(request)
    exchanged, refusal = await run_in_threadpool(_exchange, request, reward_id, visit.customer_id)
    extra = await run_in_threadpool(_rewards_context, request, visit.customer_id)
    if exchanged is not None:
        exchanged["reward"] = next((r for r in extra["rewards"] if r["id"] == reward_id), None)
    context = _context(token, visit, "/rewards", exchanged=exchanged, refusal=refusal, **extra)
    return render(request, "portal/rewards.html", context, status_code=201 if exchanged else 409)


# --- the prize wheel --------------------------------------------------------------------------------


def prize_words(prize: dict[str, Any], offers: dict[str, dict[str, str]]) -> str:
    if prize["kind"] == "points":
        return f"{prize['points']} points"
    if prize["kind"] == "coupon":
        offer = offers.get(prize.get("campaign_id") or "")
        return f"{offer['name']}: {offer['discount']}" if offer else "A coupon"
    return "No prize"


def short_words(prize: dict[str, Any], offers: dict[str, dict[str, str]]) -> str:
    """What fits on the wheel's slice: the campaign's name for a coupon."""
    if prize["kind"] == "coupon":
        offer = offers.get(prize.get("campaign_id") or "")
        return offer["name"] if offer else "A coupon"
    return prize_words(prize, offers)


def segments(prizes: list[dict[str, Any]], offers: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """The wheel's slices: each prize's share of the circle is its share of the weights, drawn
    clockwise from the top, where the pointer is."""
    total = sum(p["weight"] for p in prizes) or 1
    start, out = 0.0, []
    for i, p in enumerate(prizes):
        sweep = 360.0 * p["weight"] / total
        out.append(
            {
                "position": p["position"],
                "start": start,
                "end": start + sweep,
                "colour": i % SEGMENT_COLOURS,
                "words": prize_words(p, offers),
                "short": short_words(p, offers),
                "path": _slice_path(start, start + sweep),
                "label": _label_at(start + sweep / 2),
            }
        )
        start += sweep
    return out


def _point(angle: float, radius: float) -> tuple[float, float]:
    from math import cos, radians, sin

    a = radians(angle - 90)  # 0 degrees at the top, clockwise
    return round(100 + radius * cos(a), 3), round(100 + radius * sin(a), 3)


def _slice_path(start: float, end: float) -> str:
    if end - start >= 359.999:
        return "M 100 4 A 96 96 0 1 1 99.999 4 Z"
    x1, y1 = _point(start, 96)
    x2, y2 = _point(end, 96)
    large = 1 if end - start > 180 else 0
    return f"M 100 100 L {x1} {y1} A 96 96 0 {large} 1 {x2} {y2} Z"


def _label_at(angle: float) -> dict[str, float]:
    x, y = _point(angle, 60)
    return {"x": x, "y": y, "rotate": round(angle - 90, 2)}


def _wheels_context(request: Request, customer_id: str) -> dict[str, Any]:
    db = request.app.state.db
    listed = wheels.list_wheels(db, ACTOR)
    offers = views.campaign_offers(
        db, {p["campaign_id"] for w in listed for p in w["prizes"] if p.get("campaign_id")}
    )
    # a prize out of stock is never drawn: the wheel shows the prizes that can be won, at their chances
    shown = [
        {**w, "segments": segments([p for p in w["prizes"] if p.get("remaining") != 0], offers)}
        for w in listed
    ]
    return {"points": _points(db, customer_id), "wheels": shown, "offers": offers}


def _spin(request: Request, wheel_id: str, customer_id: str, now: datetime) -> dict[str, Any]:
    """The spin's result as the page and its script show it: the drawn prize's position, in words."""
    state = request.app.state
    try:
        spun = wheels.spin(
            state.db, ACTOR, wheel_id, customer_id, now, ZoneInfo(state.settings.shop_timezone)
        )
    except (PointsRefused, NotFound) as refused:
        return {
            "ok": False,
            "wheel_id": wheel_id,
            "refusal": lf.REFUSAL_WORDS.get(refused.code, "You cannot spin now."),
        }
    prize = spun["prize"]
    offers = views.campaign_offers(state.db, [prize["campaign_id"]] if prize.get("campaign_id") else [])
    if prize["kind"] == "points":
        words = f"You won {prize['points']} points!"
    elif prize["kind"] == "coupon" and spun["code"]:
        words = f"You won a coupon, {prize_words(prize, offers)}. It is in your coupons."
    else:
        words = "No prize this time. Better luck next spin!"
    paid = "This was a free spin." if spun["free"] else f"This spin cost {spun['points_paid']} points."
    return {
        "ok": True,
        "wheel_id": wheel_id,
        "spin_id": spun["id"],
        "position": prize["position"],
        "kind": prize["kind"],
        "words": words,
        "paid": paid,
        "code": spun["code"],
        "url": _coupon_url(request, spun["code"], customer_id) if spun["code"] else None,
        "available": _points(state.db, customer_id)["available"],
    }


@router.get("/portal/{token}/wheel")
async def wheel_page(request: Request, token: Token) -> Response:
    visit = await _visit(request, token)
    if visit is None:
        return _invalid(request)
    extra = await run_in_threadpool(_wheels_context, request, visit.customer_id)
    return render(request, "portal/wheel.html", _context(token, visit, "/wheel", result=None, **extra))


@router.post("/portal/{token}/wheels/{wheel_id}/spins")
async def spin(request: Request, token: Token, wheel_id: ResourceIdPath) -> Response:
    """One spin. The wheel's script asks for JSON (Accept: application/json) and turns the wheel to
    `position`; a plain form post gets the page back with the wheel resting on the prize."""
    visit = await _visit(request, token)
    if visit is None:
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(
                {"ok": False, "refusal": "This link has expired. Open the page again from the shop."},
                status_code=404,
            )
        return _invalid(request)
    result = await run_in_threadpool(_spin, request, wheel_id, visit.customer_id, utcnow())
    status = 201 if result["ok"] else 409
    if "application/json" in request.headers.get("accept", ""):
        response = JSONResponse(result, status_code=status, headers={"Cache-Control": "no-store"})
        security.harden(response, None)
        return response
    extra = await run_in_threadpool(_wheels_context, request, visit.customer_id)
    return render(
        request,
        "portal/wheel.html",
        _context(token, visit, "/wheel", result=result, **extra),
        status_code=status,
    )
