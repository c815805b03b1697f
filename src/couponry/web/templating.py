"""The Jinja2 environment of the web pages and `render()`, which every page answers with.

Templates live in couponry/web/templates/ and are autoescaped (a campaign named `<script>` is shown as
text). Undefined names raise (StrictUndefined): a typo in a template fails the test that renders it.
Globals available in every template: `request`, `user` (the signed-in User or None), `csrf_input()`
(the hidden CSRF field for a form), `csrf_token()`, `static(path)` (the URL of a file under static/),
`nav` (the dashboard's sections) and `version`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from couponry import __version__
from couponry.web import security
from couponry.web.wording import discount_words, terms_words

STATIC_PATH = "/static/web"

env = Environment(
    loader=PackageLoader("couponry.web", "templates"),
    autoescape=select_autoescape(["html", "xml"], default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def static(path: str) -> str:
    """The URL of a file under couponry/web/static/, versioned so a new release is not served stale."""
    return f"{STATIC_PATH}/{path.lstrip('/')}?v={__version__}"


def money(minor: int | None, currency: str = "") -> str:
    """Minor units as a decimal amount (2 decimals: what every currency the demo uses has)."""
    if minor is None:
        return "—"
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(int(minor)), 100)
    text = f"{sign}{whole:,}.{cents:02d}"
    return f"{text} {currency}".strip()


def when(value: datetime | str | None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return value.strftime("%Y-%m-%d %H:%M UTC")


env.globals.update(static=static, version=__version__)
env.filters.update(money=money, when=when, discount_words=discount_words, terms_words=terms_words)


# The dashboard's sections, in the order of its navigation. `soon` entries are placeholders for pages
# other work adds (loyalty, measuring): they show in the menu, marked, so the layout does not move.
NAV: list[dict[str, Any]] = [
    {"href": "/dashboard", "label": "Campaigns", "roles": ("admin", "store")},
    {"href": "/dashboard/codes", "label": "Codes", "roles": ("admin", "store")},
    {"href": "/dashboard/segments", "label": "Segments", "roles": ("admin",)},
    {"href": "/dashboard/publications", "label": "Publications", "roles": ("admin", "store")},
    {"href": "/dashboard/triggers", "label": "Triggers", "roles": ("admin",)},
    {"href": "/dashboard/coupon-center", "label": "Coupon center", "roles": ("admin", "store")},
    {"href": "/dashboard/referrals", "label": "Referrals", "roles": ("admin",)},
    {"href": "/dashboard/loyalty", "label": "Loyalty", "roles": ("admin",)},
    {"href": "/dashboard/reports", "label": "Reports", "roles": ("admin", "store")},
    {"href": "/dashboard/keys", "label": "API keys", "roles": ("admin",)},
    {"href": "/dashboard/users", "label": "Users", "roles": ("admin",)},
]


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    csp: str | None = None,
) -> HTMLResponse:
    """Render `template` as a page (or an htmx fragment) with the security headers and CSRF cookie."""

    def csrf_input() -> Markup:
        token = security.csrf_token(request)
        return Markup(f'<input type="hidden" name="{security.CSRF_FIELD}" value="{escape(token)}">')

    user = getattr(request.state, "user", None)
    role = user.role.value if user is not None else None
    values = {
        "request": request,
        "user": user,
        "csrf_input": csrf_input,
        "csrf_token": lambda: security.csrf_token(request),
        "nav": [item for item in NAV if role in item["roles"]],
        "current_path": request.url.path,
        **(context or {}),
    }
    body = env.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status_code, headers=headers)
    security.harden(response, csp)
    security.set_csrf_cookie(response, request)
    return response
