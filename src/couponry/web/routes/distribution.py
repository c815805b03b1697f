"""Dashboard: getting coupons to customers. Segments (rule builder with a live member count),
publications (with progress), triggers, the coupon center's offers, the referral program."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from couponry.api.schemas.common import ResourceIdPath
from couponry.domain.errors import InvalidInput, InvalidState, NotFound
from couponry.domain.triggers import EVENTS
from couponry.services.access.actors import Role
from couponry.services.access.users import User
from couponry.services.campaigns import campaigns
from couponry.services.distribution import publications, referrals, segments, triggers
from couponry.services.distribution.listings import list_publications, list_segments, preview_segment
from couponry.services.ids import utcnow
from couponry.web import security, segment_form
from couponry.web.campaign_form import Reader
from couponry.web.templating import render

router = security.web_router(prefix="/dashboard")
Admin = Annotated[User, Depends(security.require_user(Role.ADMIN))]
Marketer = Annotated[User, Depends(security.require_user(Role.ADMIN, Role.STORE))]
EVENT_WORDS = {
    "customer.created": "A customer signs up",
    "order.completed": "An order is completed",
    "birthday": "A customer's birthday",
    "signup_anniversary": "A sign-up anniversary",
    "referral.completed": "A referral is completed",
    "welcome.unused": "The welcome package expired unused",
}


async def _posted(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != security.CSRF_FIELD}


def _campaign_choices(request: Request, user: User) -> list[tuple[str, str]]:
    items, _ = campaigns.list_campaigns(request.app.state.db, user.as_actor(), limit=200)
    return [(c["id"], f"{c['name']} ({c['status']})") for c in items if c["status"] != "archived"]


# --- segments -------------------------------------------------------------------------------------


def _segments_page(
    request: Request, user: User, *, v: dict | None = None, error: str | None = None, status_code: int = 200
) -> Response:
    return render(
        request,
        "dashboard/segments.html",
        {
            "segments": list_segments(request.app.state.db, user.as_actor()),
            "fields": list(segment_form.FIELDS.items()),
            "ops": list(segment_form.OPS.items()),
            "rows": range(segment_form.ROWS),
            "v": v or {"match": "all"},
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/segments")
def segments_page(request: Request, user: Admin) -> Response:
    return _segments_page(request, user)


@router.post("/segments/preview")
async def segment_preview(request: Request, user: Admin) -> Response:
    """The live member count of the rules being built (an htmx fragment)."""
    posted = await _posted(request)
    try:
        match, rules = segment_form.rules_from(posted)
        if not rules:
            raise segment_form.RuleError(0, "add a rule")
        from fastapi.concurrency import run_in_threadpool

        count = await run_in_threadpool(
            preview_segment, request.app.state.db, user.as_actor(), match, rules, utcnow()
        )
        context: dict[str, Any] = {"count": count, "error": None}
    except segment_form.RuleError as exc:
        context = {"count": None, "error": f"Rule {exc.row + 1}: {exc}" if str(exc) != "add a rule" else None}
    except InvalidInput as exc:
        context = {"count": None, "error": exc.detail}
    return render(request, "dashboard/_segment_count.html", context)


@router.post("/segments")
async def create_segment(request: Request, user: Admin) -> Response:
    posted = await _posted(request)
    try:
        match, rules = segment_form.rules_from(posted)
        if not rules:
            raise segment_form.RuleError(0, "add at least one rule")
        segments.create_segment(
            request.app.state.db,
            user.as_actor(),
            {"name": posted.get("name", ""), "match": match, "rules": rules},
            utcnow(),
        )
    except segment_form.RuleError as exc:
        return _segments_page(request, user, v=posted, error=f"Rule {exc.row + 1}: {exc}", status_code=422)
    except InvalidInput as exc:
        return _segments_page(request, user, v=posted, error=exc.detail, status_code=422)
    return RedirectResponse("/dashboard/segments", status_code=303)


# --- publications ---------------------------------------------------------------------------------


def _publications_page(
    request: Request, user: User, *, v: dict | None = None, error: str | None = None, status_code: int = 200
) -> Response:
    actor = user.as_actor()
    db = request.app.state.db
    segment_choices = (
        [(s["id"], s["name"]) for s in list_segments(db, actor)] if user.role is Role.ADMIN else []
    )
    return render(
        request,
        "dashboard/publications.html",
        {
            "publications": list_publications(db, actor),
            "campaigns": _campaign_choices(request, user),
            "segments": segment_choices,
            "v": v or {},
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/publications")
def publications_page(request: Request, user: Marketer) -> Response:
    return _publications_page(request, user)


@router.post("/publications")
async def create_publication(request: Request, user: Marketer) -> Response:
    posted = await _posted(request)
    body: dict[str, Any] = {"notify": posted.get("notify") == "on"}
    listed = [c.strip() for c in posted.get("customer_ids", "").replace("\n", ",").split(",") if c.strip()]
    if posted.get("segment_id"):
        body["segment_id"] = posted["segment_id"]
    if listed:
        body["customer_ids"] = listed
    try:
        publications.create_publication(
            request.app.state.db, user.as_actor(), posted.get("campaign_id", ""), body, utcnow()
        )
    except (InvalidInput, InvalidState, NotFound) as exc:
        return _publications_page(request, user, v=posted, error=exc.detail, status_code=422)
    return RedirectResponse("/dashboard/publications", status_code=303)


@router.get("/publications/{publication_id}/progress")
def publication_progress(request: Request, user: Marketer, publication_id: ResourceIdPath) -> Response:
    publication = publications.get_publication(request.app.state.db, user.as_actor(), publication_id)
    return render(request, "dashboard/_publication.html", {"p": publication})


@router.get("/publications/{publication_id}/export.csv")
def export_publication(request: Request, user: Marketer, publication_id: ResourceIdPath) -> Response:
    return StreamingResponse(
        publications.export_csv(request.app.state.db, user.as_actor(), publication_id),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="publication-{publication_id}.csv"',
            "Cache-Control": "no-store",
        },
    )


# --- triggers -------------------------------------------------------------------------------------


def _triggers_page(
    request: Request, user: User, *, v: dict | None = None, error: str | None = None, status_code: int = 200
) -> Response:
    db, actor = request.app.state.db, user.as_actor()
    return render(
        request,
        "dashboard/triggers.html",
        {
            "triggers": triggers.list_triggers(db, actor),
            "events": [(e, EVENT_WORDS.get(e, e)) for e in EVENTS],
            "words": EVENT_WORDS,
            "campaigns": _campaign_choices(request, user),
            "names": {cid: name for cid, name in _campaign_choices(request, user)},
            "v": v or {"event": "customer.created", "per_customer": "1"},
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/triggers")
def triggers_page(request: Request, user: Admin) -> Response:
    return _triggers_page(request, user)


@router.post("/triggers")
async def create_trigger(request: Request, user: Admin) -> Response:
    form = await request.form()
    posted = {k: v for k, v in form.items() if isinstance(v, str)}
    r = Reader(posted)
    body: dict[str, Any] = {
        "event": r.text("event"),
        "campaign_ids": [c for c in form.getlist("campaign_ids") if isinstance(c, str) and c],
        "min_amount": r.money("min_amount"),
        "per_customer": r.whole("per_customer") or 1,
        "after_trigger_id": r.optional_text("after_trigger_id"),
        "days": r.whole("days"),
    }
    if r.errors:
        field, message = next(iter(r.errors.items()))
        return _triggers_page(request, user, v=posted, error=f"{field}: {message}", status_code=422)
    try:
        triggers.create_trigger(request.app.state.db, user.as_actor(), body, utcnow())
    except InvalidInput as exc:
        return _triggers_page(request, user, v=posted, error=exc.detail, status_code=422)
    return RedirectResponse("/dashboard/triggers", status_code=303)


@router.post("/triggers/{trigger_id}/delete")
def delete_trigger(request: Request, user: Admin, trigger_id: ResourceIdPath) -> Response:
    triggers.delete_trigger(request.app.state.db, user.as_actor(), trigger_id, utcnow())
    return RedirectResponse("/dashboard/triggers", status_code=303)


# --- coupon center and referrals ------------------------------------------------------------------


@router.get("/coupon-center")
def coupon_center_page(request: Request, user: Marketer) -> Response:
    items, _ = campaigns.list_campaigns(request.app.state.db, user.as_actor(), limit=200)
    offered = [c for c in items if c.get("claim")]
    return render(request, "dashboard/coupon_center.html", {"offers": offered, "now": utcnow()})


def _referrals_page(
    request: Request,
    user: User,
    *,
    v: dict | None = None,
    error: str | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    try:
        program = referrals.get_program(request.app.state.db, user.as_actor())
    except NotFound:
        program = None
    values = v or (
        {
            k: "" if program[k] is None else str(program[k])
            for k in ("reward_on", "inviter_campaign_id", "invitee_campaign_id", "inviter_points")
        }
        if program
        else {"reward_on": "signup", "inviter_points": "0"}
    )
    return render(
        request,
        "dashboard/referrals.html",
        {
            "program": program,
            "campaigns": [("", "No coupon"), *_campaign_choices(request, user)],
            "v": values,
            "error": error,
            "saved": saved,
        },
        status_code=status_code,
    )


@router.get("/referrals")
def referrals_page(request: Request, user: Admin) -> Response:
    return _referrals_page(request, user)


@router.post("/referrals")
def save_referrals(
    request: Request,
    user: Admin,
    reward_on: Annotated[str, Form(max_length=20)] = "signup",
    inviter_campaign_id: Annotated[str, Form(max_length=32)] = "",
    invitee_campaign_id: Annotated[str, Form(max_length=32)] = "",
    inviter_points: Annotated[str, Form(max_length=12)] = "0",
) -> Response:
    v = {
        "reward_on": reward_on,
        "inviter_campaign_id": inviter_campaign_id,
        "invitee_campaign_id": invitee_campaign_id,
        "inviter_points": inviter_points,
    }
    if not inviter_points.strip().isdigit():
        return _referrals_page(request, user, v=v, error="Points: a whole number", status_code=422)
    body = {
        "reward_on": reward_on,
        "inviter_campaign_id": inviter_campaign_id or None,
        "invitee_campaign_id": invitee_campaign_id or None,
        "inviter_points": int(inviter_points),
    }
    try:
        referrals.put_program(request.app.state.db, user.as_actor(), body, utcnow())
    except InvalidInput as exc:
        return _referrals_page(request, user, v=v, error=exc.detail, status_code=422)
    return _referrals_page(request, user, saved=True)
