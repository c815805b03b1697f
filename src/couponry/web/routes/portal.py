"""The customer's pages, reached with a short-lived signed link (POST /v1/customers/{id}/portal-links):
the wallet and the coupon center with claim buttons.

The token in the path is the authority (no session, no sign-in): it names the customer and expires.
A tampered, foreign or expired token gets one "link not valid" page (404), which says to open the
pages again from the shop. `PORTAL_NAV` is the pages' navigation: the loyalty pages (points, rewards,
the prize wheel) add their entries there when they land.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Form, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from couponry.services.distribution import portal
from couponry.services.distribution.links import coupon_links
from couponry.services.ids import utcnow
from couponry.services.messaging.secrets import signing_key
from couponry.web import security
from couponry.web.templating import render

router = security.web_router()

# (path below /portal/{token}, label): the loyalty pages append theirs (e.g. ("/points", "Points"))
PORTAL_NAV: list[tuple[str, str]] = [("", "My coupons"), ("/coupon-center", "Coupon center")]
Token = Annotated[str, Path(min_length=1, max_length=300)]
CampaignId = Annotated[str, Path(min_length=1, max_length=64)]


async def _visit(request: Request, token: str) -> portal.PortalVisit | None:
    state = request.app.state
    key = await run_in_threadpool(signing_key, state.db, state.settings.secret_key)
    return portal.read_portal_token(key, token, utcnow())


def _invalid(request: Request) -> Response:
    context = {
        "title": "Link not valid",
        "message": "This link has expired or is not valid. Go back to the shop and open your coupons again.",
    }
    return render(request, "public/message.html", context, status_code=404)


def _context(token: str, visit: portal.PortalVisit, current: str, **extra: Any) -> dict[str, Any]:
    base = f"{portal.PATH}/{token}"
    nav = [{"href": base + path, "label": label, "current": path == current} for path, label in PORTAL_NAV]
    return {"visit": visit, "base": base, "portal_nav": nav, **extra}


@router.get("/portal/{token}")
async def wallet_page(request: Request, token: Token) -> Response:
    visit = await _visit(request, token)
    if visit is None:
        return _invalid(request)
    state = request.app.state
    links = await run_in_threadpool(coupon_links, state.db, state.settings)
    items = await run_in_threadpool(portal.portal_wallet, state.db, links, visit.customer_id, utcnow())
    return render(request, "portal/wallet.html", _context(token, visit, "", items=items))


@router.get("/portal/{token}/coupon-center")
async def center_page(request: Request, token: Token) -> Response:
    visit = await _visit(request, token)
    if visit is None:
        return _invalid(request)
    items = await run_in_threadpool(portal.portal_center, request.app.state.db, visit.customer_id, utcnow())
    context = _context(token, visit, "/coupon-center", items=items, attempt=secrets.token_urlsafe(12))
    return render(request, "portal/center.html", context)


@router.post("/portal/{token}/claims/{campaign_id}")
async def claim(
    request: Request,
    token: Token,
    campaign_id: CampaignId,
    attempt: Annotated[str, Form(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
) -> Response:
    """Claim one coupon of the campaign; the attempt makes a double click claim once."""
    visit = await _visit(request, token)
    if visit is None:
        return _invalid(request)
    state = request.app.state
    claimed, refusal = await run_in_threadpool(
        portal.portal_claim, state.db, visit.customer_id, campaign_id, f"{campaign_id}:{attempt}", utcnow()
    )
    url = None
    if claimed is not None:
        links = await run_in_threadpool(coupon_links, state.db, state.settings)
        url = portal.same_site(links.url(claimed["code"], visit.customer_id))
    return render(request, "portal/_claimed.html", {"claimed": claimed, "refusal": refusal, "url": url})
