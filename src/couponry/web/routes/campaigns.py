"""Dashboard: campaigns (list, create, edit, pause, archive) and their codes (generate with progress,
CSV export). Every change goes through the same service functions and schema as the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError

from couponry.api.schemas.campaigns import CampaignCreate, CampaignUpdate
from couponry.api.schemas.common import ResourceIdPath
from couponry.domain.errors import InvalidInput
from couponry.services.access.actors import Role
from couponry.services.access.users import User
from couponry.services.campaigns import campaigns, coupons
from couponry.services.distribution.listings import list_segments
from couponry.services.ids import utcnow
from couponry.services.jobs import jobs
from couponry.web import campaign_form, security
from couponry.web.measuring import campaign_measures
from couponry.web.templating import render

router = security.web_router(prefix="/dashboard")
Marketer = Annotated[User, Depends(security.require_user(Role.ADMIN, Role.STORE))]
MAX_GENERATE = 1_000_000  # codes per request from the dashboard (the API's own bound is larger)
# the stats' period picker: a day (YYYY-MM-DD); the service checks it and the page shows its refusal
FromDay = Annotated[str | None, Query(alias="from", max_length=40)]
ToDay = Annotated[str | None, Query(max_length=40)]


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
def campaign_list(request: Request, user: Marketer, status: str | None = None) -> Response:
    if status not in (None, "", *campaign_form.STATUSES):
        status = None
    items, _ = campaigns.list_campaigns(
        request.app.state.db, user.as_actor(), status=status or None, limit=200
    )
    rows = [{**c, "bars": usage_bars(c)} for c in items]
    return render(request, "dashboard/campaigns.html", {"campaigns": rows, "status": status or ""})


def _form_page(
    request: Request,
    user: User,
    *,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    campaign_id: str | None = None,
    status_code: int = 200,
) -> Response:
    errors = errors or {}
    known = set(values) | {"conditions.channels", "discount.tiers", "conditions.time_windows"}
    general = [f"{field}: {msg}" for field, msg in errors.items() if field not in known and field != "_"]
    general += [msg for field, msg in errors.items() if field == "_"]
    segments = [("", "Any customer")]
    if user.role is Role.ADMIN:
        segments += [(s["id"], s["name"]) for s in list_segments(request.app.state.db, user.as_actor())]
    return render(
        request,
        "dashboard/campaign_form.html",
        {
            "heading": "Edit campaign" if campaign_id else "New campaign",
            "creating": campaign_id is None,
            "campaign_id": campaign_id,
            "action": f"/dashboard/campaigns/{campaign_id}/edit"
            if campaign_id
            else "/dashboard/campaigns/new",
            "v": values,
            "errors": errors,
            "general": general,
            "discount_options": list(campaign_form.DISCOUNT_TYPES.items()),
            "stacking_options": list(campaign_form.STACKING.items()),
            "segment_options": segments,
        },
        status_code=status_code,
    )


@router.get("/campaigns/new")
def new_campaign_page(request: Request, user: Marketer) -> Response:
    return _form_page(request, user, values=campaign_form.blank_form())


async def _posted(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != security.CSRF_FIELD}


def _save(request: Request, user: User, posted: dict[str, str], campaign_id: str | None) -> Response:
    """Validate with the API's schema, save with the API's service; any refusal goes beside its field."""
    db, actor = request.app.state.db, user.as_actor()
    spec, errors = campaign_form.to_spec(
        posted, is_admin=user.role is Role.ADMIN, creating=campaign_id is None
    )
    if not errors:
        try:
            if campaign_id is None:
                body = CampaignCreate.model_validate(spec)
                clean = body.model_dump(mode="json")
                if "issuer" not in spec:
                    clean["issuer"] = None  # the service gives a store user's campaign to its store
                saved = campaigns.create_campaign(db, actor, clean, utcnow())
            else:
                body = CampaignUpdate.model_validate(spec)
                patch = {k: v for k, v in body.model_dump(mode="json").items() if k in body.model_fields_set}
                saved = campaigns.update_campaign(db, actor, campaign_id, patch, utcnow())
        except ValidationError as exc:
            errors = campaign_form.schema_errors(exc)
        except InvalidInput as exc:
            errors = {campaign_form.form_field(exc.field): exc.detail.split(": ", 1)[-1]}
        else:
            return RedirectResponse(f"/dashboard/campaigns/{saved['id']}?saved=1", status_code=303)
    values = campaign_form.posted_values(posted)
    if campaign_id is not None:
        values["currency"] = campaigns.get_campaign(db, actor, campaign_id)["currency"]
    return _form_page(request, user, values=values, errors=errors, campaign_id=campaign_id, status_code=422)


@router.post("/campaigns/new")
async def create_campaign(request: Request, user: Marketer) -> Response:
    posted = await _posted(request)
    return await run_in_threadpool(_save, request, user, posted, None)


@router.get("/campaigns/{campaign_id}")
def campaign_page(
    request: Request,
    user: Marketer,
    campaign_id: ResourceIdPath,
    saved: str | None = None,
    from_: FromDay = None,
    to: ToDay = None,
) -> Response:
    db, actor = request.app.state.db, user.as_actor()
    campaign = campaigns.get_campaign(db, actor, campaign_id)
    return render(
        request,
        "dashboard/campaign.html",
        {
            "c": campaign,
            "bars": usage_bars(campaign),
            "saved": bool(saved),
            "job": None,
            "m": campaign_measures(request, user, campaign, from_, to),
        },
    )


@router.get("/campaigns/{campaign_id}/edit")
def edit_campaign_page(request: Request, user: Marketer, campaign_id: ResourceIdPath) -> Response:
    campaign = campaigns.get_campaign(request.app.state.db, user.as_actor(), campaign_id)
    return _form_page(request, user, values=campaign_form.to_form(campaign), campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/edit")
async def edit_campaign(request: Request, user: Marketer, campaign_id: ResourceIdPath) -> Response:
    posted = await _posted(request)
    return await run_in_threadpool(_save, request, user, posted, campaign_id)


@router.post("/campaigns/{campaign_id}/status")
def set_status(
    request: Request,
    user: Marketer,
    campaign_id: ResourceIdPath,
    status: Annotated[str, Form(pattern="^(draft|active|paused|archived)$")],
) -> Response:
    campaigns.update_campaign(
        request.app.state.db, user.as_actor(), campaign_id, {"status": status}, utcnow()
    )
    return RedirectResponse(f"/dashboard/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id}/codes")
def generate_codes(
    request: Request,
    user: Marketer,
    campaign_id: ResourceIdPath,
    count: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Generate codes: a few at once (listed), many as a job whose progress bar htmx polls."""
    db, actor = request.app.state.db, user.as_actor()
    campaign = campaigns.get_campaign(db, actor, campaign_id)
    error = None
    number = int(count) if count.strip().isdigit() else 0
    if not 1 <= number <= MAX_GENERATE:
        error = f"enter a number of codes from 1 to {MAX_GENERATE:,}"
    else:
        try:
            status, payload = coupons.issue_codes(
                db, actor, campaign_id, codes=None, count=number, customer_id=None, now=utcnow()
            )
        except InvalidInput as exc:
            error = exc.detail.split(": ", 1)[-1]
    context: dict[str, Any] = {"c": campaign, "error": error, "count": count, "job": None, "codes": None}
    if error is None:
        if status == 202:
            context["job"] = payload
        else:
            context["codes"] = payload["codes"]
    template = "dashboard/_codes.html" if request.headers.get("HX-Request") else "dashboard/campaign.html"
    if template == "dashboard/campaign.html":
        context.update(
            bars=usage_bars(campaign), saved=False, m=campaign_measures(request, user, campaign, None, None)
        )
    return render(request, template, context, status_code=422 if error else 200)


@router.get("/jobs/{job_id}")
def job_progress(request: Request, user: Marketer, job_id: ResourceIdPath) -> Response:
    """The progress bar of a job (an htmx fragment that polls itself until the job has finished)."""
    job = jobs.get_job(request.app.state.db, user.as_actor(), job_id)
    return render(request, "dashboard/_job.html", {"job": job})


@router.get("/campaigns/{campaign_id}/codes.csv")
def export_codes(request: Request, user: Marketer, campaign_id: ResourceIdPath) -> Response:
    from couponry.adapters.db.bulk_codes import stream_codes
    from couponry.services.campaigns.exports import csv_chunks

    db = request.app.state.db
    coupons.check_campaign_visible(db, user.as_actor(), campaign_id)
    return StreamingResponse(
        csv_chunks(stream_codes(db, campaign_id)),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="coupons-{campaign_id}.csv"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
