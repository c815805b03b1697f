"""Dashboard: the campaigns list, and creating, editing, pausing and archiving a campaign."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from couponry.services.access.actors import Role
from couponry.services.access.users import User
from couponry.services.campaigns import campaigns
from couponry.web import security
from couponry.web.templating import render

router = security.web_router(prefix="/dashboard")
Marketer = Annotated[User, Depends(security.require_user(Role.ADMIN, Role.STORE))]


def usage_bars(campaign: dict[str, Any]) -> dict[str, Any]:
    """What the list shows as bars: redemptions against the limit, discount spent against the budget."""
    stats, limits = campaign["stats"], campaign["limits"]
    return {
        "redeemed": stats["redeemed_count"],
        "max_redemptions": limits.get("max_redemptions"),
        "spent": stats["budget_used"],
        "budget": limits.get("budget"),
    }


@router.get("")
async def campaign_list(request: Request, user: Marketer, status: str | None = None) -> Response:
    if status not in (None, "", "draft", "active", "paused", "archived"):
        status = None
    items, _ = await run_in_threadpool(
        campaigns.list_campaigns, request.app.state.db, user.as_actor(), status=status or None, limit=200
    )
    rows = [{**c, "bars": usage_bars(c)} for c in items]
    return render(request, "dashboard/campaigns.html", {"campaigns": rows, "status": status or ""})
