"""The unsubscribe page of every mail: GET shows a button, POST turns marketing consent off.

A GET never changes anything, because mail scanners and link previews open links by themselves. The
same URL is the `List-Unsubscribe` target, so a mail client's one-click POST (RFC 8058, body
`List-Unsubscribe=One-Click`) works too; the signed token is the authority, no session is needed.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from couponry.api.deps import DbDep, NowDep
from couponry.services.messaging.secrets import signing_key
from couponry.services.messaging.unsubscribe import customer_of, withdraw_consent

router = APIRouter(tags=["pages"])

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title></head>
<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; max-width: 480px;
margin: 48px auto; padding: 0 16px; color: #222;">
<h1 style="font-size: 22px;">{title}</h1>
{body}
</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=escape(title), body=body),
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _invalid() -> HTMLResponse:
    return _page(
        "Link not valid",
        "<p>This unsubscribe link is not valid. Please use the link of a recent mail.</p>",
        404,
    )


async def _customer(request: Request, db: DbDep, token: str) -> str | None:
    key = await run_in_threadpool(signing_key, db, request.app.state.settings.secret_key)
    return customer_of(key, token)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_page(token: str, request: Request, db: DbDep) -> HTMLResponse:
    """Shows the button; changes nothing."""
    if await _customer(request, db, token) is None:
        return _invalid()
    return _page(
        "Unsubscribe",
        "<p>Stop receiving offers by e-mail?</p>"
        f'<form method="post" action="{escape(str(request.url.path))}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit" style="font-size: 16px; padding: 8px 16px;">Unsubscribe</button></form>',
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe(token: str, request: Request, db: DbDep, now: NowDep) -> HTMLResponse:
    """Turns marketing consent off (the page's button, or a mail client's one-click POST)."""
    customer_id = await _customer(request, db, token)
    if customer_id is None:
        return _invalid()
    await run_in_threadpool(withdraw_consent, db, customer_id, now)
    return _page("You are unsubscribed", "<p>You will not receive offers by e-mail any more.</p>")
