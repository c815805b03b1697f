"""Dashboard: look up one code, its coupon and its redemptions. A store user's failed look-ups count
against the same throttle as an API key's (codes must not be guessable from a browser either)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import Response

from couponry.domain.errors import Forbidden, NotFound
from couponry.services.access.actors import Role
from couponry.services.access.users import User
from couponry.services.campaigns.code_history import code_history
from couponry.services.ids import utcnow
from couponry.web import security
from couponry.web.templating import render

router = security.web_router(prefix="/dashboard")
Marketer = Annotated[User, Depends(security.require_user(Role.ADMIN, Role.STORE))]


@router.get("/codes")
def code_lookup(
    request: Request, user: Marketer, code: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    code = code.strip()
    context: dict = {"code": code, "found": None, "error": None}
    if not code:
        return render(request, "dashboard/codes.html", context)
    actor = user.as_actor()
    throttle = request.app.state.throttle if user.role is not Role.ADMIN else None
    reservation = throttle.reserve(actor.key_id, 1) if throttle else None
    if reservation is not None and reservation.retry_after is not None:
        context["error"] = f"Too many unknown codes; try again in {reservation.retry_after} s."
        return render(request, "dashboard/codes.html", context, status_code=429)
    failed = 1
    try:
        context["found"] = code_history(request.app.state.db, actor, code, utcnow())
        failed = 0
    except (NotFound, Forbidden):
        context["error"] = "No coupon has this code."
    finally:
        if reservation is not None and throttle is not None:
            throttle.settle(reservation, failed)
    return render(request, "dashboard/codes.html", context, status_code=404 if failed else 200)
