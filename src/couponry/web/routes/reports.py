"""Dashboard: reports over a period — one row per campaign, and the settlement (what the platform owes
each store for platform coupons) — with their CSV downloads, the very CSV of GET /v1/reports/*.csv,
served through the web session. A store user sees its own campaigns and its own settlement row, as a
store key does (the services scope it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from couponry.domain.errors import InvalidInput
from couponry.services.access.actors import Role
from couponry.services.access.users import User
from couponry.services.ids import utcnow
from couponry.services.reporting import reports
from couponry.web import security
from couponry.web.measuring import period_of, zone_of
from couponry.web.templating import render

router = security.web_router(prefix="/dashboard/reports")
Marketer = Annotated[User, Depends(security.require_user(Role.ADMIN, Role.STORE))]
FromDay = Annotated[str | None, Query(alias="from", max_length=40)]
ToDay = Annotated[str | None, Query(max_length=40)]


@router.get("")
def reports_page(request: Request, user: Marketer, from_: FromDay = None, to: ToDay = None) -> Response:
    start, end = period_of(request, from_, to)
    db, actor, zone, now = request.app.state.db, user.as_actor(), zone_of(request), utcnow()
    context = {"start": start, "end": end, "error": None, "rows": [], "settlement": None}
    try:
        _, context["rows"] = reports.campaign_rows(db, actor, start, end, zone, now)
        context["settlement"] = reports.settlement(db, actor, start, end, zone, now)
    except InvalidInput as exc:
        context["error"] = f"{exc.field}: {exc.detail.split(': ', 1)[-1]}" if exc.field else exc.detail
    return render(request, "dashboard/reports.html", context, status_code=422 if context["error"] else 200)


def _csv(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/campaigns.csv")
def campaigns_csv(request: Request, user: Marketer, from_: FromDay = None, to: ToDay = None) -> Response:
    """The same CSV as GET /v1/reports/campaigns.csv with the same query (same service, same defaults:
    the page's links always name the period it shows)."""
    period_, rows = reports.campaign_rows(
        request.app.state.db, user.as_actor(), from_, to, zone_of(request), utcnow()
    )
    return _csv("".join(reports.campaigns_csv(rows)), f"campaigns-{period_.start}-{period_.end}.csv")


@router.get("/settlement.csv")
def settlement_csv(request: Request, user: Marketer, from_: FromDay = None, to: ToDay = None) -> Response:
    """The same CSV as GET /v1/reports/settlement.csv with the same query."""
    body = reports.settlement(request.app.state.db, user.as_actor(), from_, to, zone_of(request), utcnow())
    return _csv(reports.settlement_csv(body), f"settlement-{body['from']}-{body['to']}.csv")
