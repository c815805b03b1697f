"""Dashboard: the loyalty program (admin only). Its settings, the rewards catalog, prize wheels, and one
customer's points with the ledger and a manual adjustment. Every change goes through the API's schema
(api/schemas/loyalty.py) and service functions (services/loyalty/), so the rules are the API's."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from couponry.api.schemas.loyalty import AdjustmentIn, ProgramIn, RewardIn, WheelIn
from couponry.domain.errors import InvalidInput, NotFound, PointsRefused
from couponry.services.access.actors import Role
from couponry.services.access.users import User
from couponry.services.campaigns import campaigns
from couponry.services.ids import utcnow
from couponry.services.loyalty import program, rewards, views, wheels
from couponry.web import loyalty_form as lf
from couponry.web import security
from couponry.web.templating import render

router = security.web_router(prefix="/dashboard/loyalty")
Admin = Annotated[User, Depends(security.require_user(Role.ADMIN))]
SECTIONS = [
    ("/dashboard/loyalty", "Program"),
    ("/dashboard/loyalty/rewards", "Rewards"),
    ("/dashboard/loyalty/wheels", "Prize wheels"),
    ("/dashboard/loyalty/customers", "Customer points"),
]


async def _posted(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != security.CSRF_FIELD}


def _page(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    errors = context.get("errors") or {}
    known = set(context.get("fields", ()))
    general = [
        msg if field == "_" else f"{field}: {msg}" for field, msg in errors.items() if field not in known
    ]
    return render(
        request,
        template,
        {"sections": SECTIONS, "general": general, "saved": False, **context},
        status_code=status_code,
    )


def _service_error(exc: InvalidInput) -> dict[str, str]:
    return {lf.form_field(exc.field): exc.detail.split(": ", 1)[-1]}


def _campaign_choices(request: Request, user: User) -> list[tuple[str, str]]:
    items, _ = campaigns.list_campaigns(request.app.state.db, user.as_actor(), limit=200)
    return [(c["id"], f"{c['name']} ({c['status']})") for c in items if c["status"] != "archived"]


# --- the program ------------------------------------------------------------------------------------


PROGRAM_FIELDS = ("earn_points", "per_amount", "point_value", "pending_days", "expiry_days")


def _program_page(
    request: Request,
    user: User,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    try:
        current = program.get_program(request.app.state.db, user.as_actor())
    except NotFound:
        current = None
    values = values if values is not None else lf.program_values(current)
    row_numbers = lf.rows(values, "multipliers")
    fields = {
        *PROGRAM_FIELDS,
        *(
            f"multipliers.{i}.{k}"
            for i in row_numbers
            for k in ("factor", "products", "categories", "brands")
        ),
    }
    context = {
        "program": current,
        "v": values,
        "errors": errors or {},
        "saved": saved,
        "multiplier_rows": row_numbers,
        "fields": fields,
    }
    return _page(request, "dashboard/loyalty_program.html", context, status_code)


@router.get("")
def program_page(request: Request, user: Admin, saved: str | None = None) -> Response:
    return _program_page(request, user, saved=saved == "1")


def _save_program(request: Request, user: User, posted: dict[str, str]) -> Response:
    body, errors = lf.program_body(posted)
    sent = body["multipliers"]
    if not errors:
        clean, errors = lf.validated(ProgramIn, {**body, "multipliers": lf.strip_rows(sent)})
        errors = lf.renumber(errors, sent, "multipliers")
    if not errors:
        try:
            program.put_program(request.app.state.db, user.as_actor(), clean, utcnow())
        except InvalidInput as exc:
            errors = _service_error(exc)
        else:
            return RedirectResponse("/dashboard/loyalty?saved=1", status_code=303)
    return _program_page(request, user, values=posted, errors=errors, status_code=422)


@router.post("")
async def save_program(request: Request, user: Admin) -> Response:
    posted = await _posted(request)
    return await run_in_threadpool(_save_program, request, user, posted)


# --- rewards ----------------------------------------------------------------------------------------


def _rewards_page(
    request: Request,
    user: User,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    db = request.app.state.db
    listed = rewards.list_rewards(db, user.as_actor())
    offers = views.campaign_offers(db, {r["campaign_id"] for r in listed})
    context = {
        "rewards": listed,
        "offers": offers,
        "campaigns": [("", "Choose a campaign"), *_campaign_choices(request, user)],
        "v": values or {},
        "errors": errors or {},
        "saved": saved,
        "fields": ("name", "points", "campaign_id", "stock"),
    }
    return _page(request, "dashboard/loyalty_rewards.html", context, status_code)


@router.get("/rewards")
def rewards_page(request: Request, user: Admin, saved: str | None = None) -> Response:
    return _rewards_page(request, user, saved=saved == "1")


def _create_reward(request: Request, user: User, posted: dict[str, str]) -> Response:
    body, errors = lf.reward_body(posted)
    if not errors:
        clean, errors = lf.validated(RewardIn, body)
    if not errors:
        try:
            rewards.create_reward(request.app.state.db, user.as_actor(), clean, utcnow())
        except InvalidInput as exc:
            errors = _service_error(exc)
        else:
            return RedirectResponse("/dashboard/loyalty/rewards?saved=1", status_code=303)
    return _rewards_page(request, user, values=posted, errors=errors, status_code=422)


@router.post("/rewards")
async def create_reward(request: Request, user: Admin) -> Response:
    posted = await _posted(request)
    return await run_in_threadpool(_create_reward, request, user, posted)


# --- prize wheels -----------------------------------------------------------------------------------

PRIZE_FIELDS = ("kind", "campaign_id", "points", "weight", "stock")


def _with_chances(wheel: dict[str, Any]) -> dict[str, Any]:
    """Each prize's chance in percent now: its weight against the prizes still in stock (None: out)."""
    total = sum(p["weight"] for p in wheel["prizes"] if p.get("remaining") != 0) or 1
    prizes = [
        {**p, "chance": None if p.get("remaining") == 0 else 100 * p["weight"] / total}
        for p in wheel["prizes"]
    ]
    return {**wheel, "prizes": prizes}


def _wheels_page(
    request: Request,
    user: User,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    db = request.app.state.db
    listed = [_with_chances(w) for w in wheels.list_wheels(db, user.as_actor())]
    offers = views.campaign_offers(
        db, {p["campaign_id"] for w in listed for p in w["prizes"] if p.get("campaign_id")}
    )
    values = values or {
        "free_spins_per_day": "1",
        "cost_points": "0",
        "prizes.0.kind": "points",
        "prizes.1.kind": "nothing",
    }
    prize_rows = range(max(lf.rows(values, "prizes").stop, 4))
    fields = {
        "name",
        "cost_points",
        "free_spins_per_day",
        "prizes",
        *(f"prizes.{i}.{k}" for i in prize_rows for k in PRIZE_FIELDS),
    }
    context = {
        "wheels": listed,
        "offers": offers,
        "campaigns": [("", "Choose a campaign"), *_campaign_choices(request, user)],
        "kinds": [("", "No prize in this row"), *lf.PRIZE_KINDS.items()],
        "prize_rows": prize_rows,
        "v": values,
        "errors": errors or {},
        "saved": saved,
        "fields": fields,
    }
    return _page(request, "dashboard/loyalty_wheels.html", context, status_code)


@router.get("/wheels")
def wheels_page(request: Request, user: Admin, saved: str | None = None) -> Response:
    return _wheels_page(request, user, saved=saved == "1")


def _create_wheel(request: Request, user: User, posted: dict[str, str]) -> Response:
    body, errors = lf.wheel_body(posted)
    sent = body["prizes"]
    if not errors:
        clean, errors = lf.validated(WheelIn, {**body, "prizes": lf.strip_rows(sent)})
        errors = lf.renumber(errors, sent, "prizes")
    if not errors:
        try:
            wheels.create_wheel(request.app.state.db, user.as_actor(), clean, utcnow())
        except InvalidInput as exc:
            errors = lf.renumber(_service_error(exc), sent, "prizes")
        else:
            return RedirectResponse("/dashboard/loyalty/wheels?saved=1", status_code=303)
    return _wheels_page(request, user, values=posted, errors=errors, status_code=422)


@router.post("/wheels")
async def create_wheel(request: Request, user: Admin) -> Response:
    posted = await _posted(request)
    return await run_in_threadpool(_create_wheel, request, user, posted)


# --- one customer's points --------------------------------------------------------------------------


def _customer_page(
    request: Request,
    user: User,
    customer_id: str,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    db, actor = request.app.state.db, user.as_actor()
    points = entries = None
    missing = False
    if customer_id:
        try:
            points = program.points(db, actor, customer_id, utcnow())
        except NotFound:
            missing = True
        else:
            entries = [
                {**e, "words": lf.entry_words(e)} for e in views.recent_entries(db, actor, customer_id)
            ]
    context = {
        "customer_id": customer_id,
        "points": points,
        "entries": entries,
        "missing": missing,
        "v": values or {},
        "errors": errors or {},
        "saved": saved,
        "fields": ("points", "reason"),
    }
    return _page(request, "dashboard/loyalty_customer.html", context, status_code)


CustomerQuery = Annotated[str, Query(max_length=100)]


@router.get("/customers")
def customer_page(
    request: Request, user: Admin, customer_id: CustomerQuery = "", saved: str | None = None
) -> Response:
    return _customer_page(request, user, customer_id.strip(), saved=saved == "1")


def _adjust(request: Request, user: User, posted: dict[str, str]) -> Response:
    body, errors = lf.adjustment_body(posted)
    if not errors:
        clean, errors = lf.validated(AdjustmentIn, body)
    if not errors:
        try:
            program.adjust(request.app.state.db, user.as_actor(), clean, utcnow())
        except InvalidInput as exc:
            errors = _service_error(exc)
        except PointsRefused as exc:
            errors = {"points": exc.detail}
        except NotFound as exc:
            errors = {"_": exc.detail}
        else:
            query = urlencode({"customer_id": body["customer_id"], "saved": "1"})
            target = f"/dashboard/loyalty/customers?{query}"
            return RedirectResponse(target, status_code=303)
    customer_id = body["customer_id"][:100]
    return _customer_page(request, user, customer_id, values=posted, errors=errors, status_code=422)


@router.post("/customers/adjustments")
async def adjust(request: Request, user: Admin) -> Response:
    posted = await _posted(request)
    return await run_in_threadpool(_adjust, request, user, posted)
