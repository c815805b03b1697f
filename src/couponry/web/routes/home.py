"""`/`: the signed-in user's home (`couponry.web.home_of`), or the sign-in page for a visitor."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from couponry.web import security

router = security.web_router()


@router.get("/")
async def root(request: Request) -> Response:
    from couponry.web import home_of

    user = await security.current_user(request)
    target = "/sign-in" if user is None else home_of(user.role.value)
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
