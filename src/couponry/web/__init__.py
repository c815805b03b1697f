"""The web pages: the marketer dashboard, sign-in, and (from other modules) the public coupon page,
the POS page and the customer pages. Server-rendered Jinja2 with htmx; see README.md beside this file.

`install(app)` mounts the static files and every web router, and makes errors on web pages answer as
pages (a redirect to sign-in, a 403 page) instead of the API's problem+json.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from couponry.domain.errors import CouponryError
from couponry.web import security
from couponry.web.templating import STATIC_PATH, render

STATIC = Path(__file__).parent / "static"


def _routers() -> list[APIRouter]:
    """The `router` of every module in couponry/web/routes/: a new page module needs no registration."""
    from couponry.web import routes

    found = []
    for module in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        router = getattr(importlib.import_module(f"{routes.__name__}.{module.name}"), "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found


def install(app: FastAPI) -> None:
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="web-static")
    for router in _routers():
        app.include_router(router)

    @app.exception_handler(security.SignInRequired)
    async def sign_in_first(request: Request, exc: security.SignInRequired) -> Response:
        target = security.sign_in_url(request)
        if request.headers.get("HX-Request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(security.WrongRole)
    async def wrong_role(request: Request, exc: security.WrongRole) -> Response:
        return render(
            request,
            "error.html",
            {
                "title": "Not for this account",
                "status": 403,
                "message": "This account cannot open this page.",
                "home": home_of(exc.user.role.value),
            },
            status_code=403,
        )

    @app.exception_handler(security.CsrfRefused)
    async def csrf_refused(request: Request, exc: security.CsrfRefused) -> Response:
        return render(
            request,
            "error.html",
            {
                "title": "Form expired",
                "status": 403,
                "message": "This form was not sent from a page of this site, "
                "or the page is too old. Reload the page and try again.",
                "home": "/dashboard",
            },
            status_code=403,
        )

    api_domain_error = app.exception_handlers[CouponryError]
    api_invalid_request = app.exception_handlers[RequestValidationError]

    @app.exception_handler(CouponryError)
    async def domain_error(request: Request, exc: CouponryError) -> Response:
        if not security.is_web_request(request):
            return await api_domain_error(request, exc)
        from couponry.api.problems import status_of

        status = status_of(exc)
        titles = {404: "Not found", 403: "Not allowed", 409: "Not possible", 429: "Too many attempts"}
        return render(
            request,
            "error.html",
            {
                "title": titles.get(status, "Error"),
                "status": status,
                "message": exc.detail,
                "home": "/dashboard",
            },
            status_code=status,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if not security.is_web_request(request):
            return await api_invalid_request(request, exc)
        return render(
            request,
            "error.html",
            {
                "title": "Invalid address",
                "status": 422,
                "message": "This page was asked for with values it cannot take.",
                "home": "/dashboard",
            },
            status_code=422,
        )


def home_of(role: str) -> str:
    """Where a user of `role` starts: the POS page for pos users, the dashboard for everyone else."""
    return "/pos" if role == "pos" else "/dashboard"
