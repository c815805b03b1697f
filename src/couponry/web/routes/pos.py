"""The POS page (`/pos`): staff scan a coupon's QR code or type its code, see at once whether it is
valid (or why not, in words) and what it takes off the amount, and redeem it with one button.

Each check renders a fresh attempt id into the redeem form: the redemption's order is `pos:{attempt}`
and its Idempotency-Key the attempt, so a double tap (or a retry) redeems once and shows the same
answer. POS users see this page only; admins and store users may use it too (a store user's till sees
its own store's and platform coupons, as a store key does).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from couponry.services.access.actors import Role
from couponry.services.access.users import User
from couponry.services.checkout import till
from couponry.services.ids import utcnow
from couponry.web import security
from couponry.web.templating import render

router = security.web_router()

Staff = Annotated[User, Depends(security.require_user(Role.POS, Role.ADMIN, Role.STORE))]
CodeField = Annotated[str, Form(min_length=1, max_length=200)]
AmountField = Annotated[str, Form(max_length=30)]


@router.get("/pos")
async def pos_page(request: Request, user: Staff) -> Response:
    return render(request, "pos/pos.html", {"check": None})


@router.post("/pos/check")
async def check(request: Request, user: Staff, code: CodeField, amount: AmountField = "") -> Response:
    """Valid or why not, and the discount on the amount (no side effects)."""
    db = request.app.state.db
    result = await run_in_threadpool(till.check_at_till, db, user.as_actor(), code, amount, utcnow())
    context = {"check": result, "typed_amount": amount, "attempt": secrets.token_urlsafe(16), "done": None}
    return render(request, "pos/_result.html", context)


@router.post("/pos/redeem")
async def redeem(
    request: Request,
    user: Staff,
    code: CodeField,
    attempt: Annotated[str, Form(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    amount: AmountField = "",
) -> Response:
    """Redeem once for this attempt; the same attempt again answers the same."""
    db = request.app.state.db
    done = await run_in_threadpool(
        till.redeem_at_till, db, user.as_actor(), code, amount, f"{user.id}-{attempt}"[:64], utcnow()
    )
    context = {"check": done.check, "typed_amount": amount, "attempt": attempt, "done": done}
    return render(request, "pos/_result.html", context)
