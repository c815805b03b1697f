from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse

from couponry.api.deps import ActorDep, DbDep, LookupsDep, NowDep
from couponry.api.responses import PROBLEMS
from couponry.api.schemas.common import Cursor, ResourceIdPath
from couponry.api.schemas.coupons import IssueCodes
from couponry.domain.errors import CodeTaken, Forbidden, NotFound
from couponry.services.campaigns import coupons
from couponry.services.distribution.links import coupon_links
from couponry.services.jobs import jobs

router = APIRouter(tags=["coupons"], responses=PROBLEMS)


@router.post(
    "/v1/campaigns/{campaign_id}/coupons", status_code=201, responses={202: {"description": "A job"}}
)
def issue_codes(
    campaign_id: ResourceIdPath,
    body: IssueCodes,
    db: DbDep,
    actor: ActorDep,
    lookups: LookupsDep,
    now: NowDep,
) -> Any:
    # Vanity codes probe which codes exist: the batch is guarded as one look-up, and each taken code
    # the key may not see then counts as a failed one, as an unknown code does at validation.
    with lookups.guard(1 if body.codes is not None else 0):
        try:
            status, payload = coupons.issue_codes(
                db,
                actor,
                campaign_id,
                codes=body.codes,
                count=body.count,
                customer_id=body.customer_id,
                now=now,
            )
        except CodeTaken as taken:
            lookups.failed(taken.extra["taken"] - len(taken.extra["codes"]))
            raise
        lookups.failed(0)
    return JSONResponse(jsonable_encoder(payload), status_code=status)


CSV_EXPORT = {
    200: {
        "description": "A page of coupons (JSON), or with `format=csv` every code as CSV",
        "content": {
            "application/json": {},
            "text/csv": {"schema": {"type": "string"}, "example": "code,campaign_id,customer_id\n"},
        },
    }
}


@router.get("/v1/campaigns/{campaign_id}/coupons", responses=CSV_EXPORT)
def list_coupons(
    campaign_id: ResourceIdPath,
    db: DbDep,
    actor: ActorDep,
    now: NowDep,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[Cursor | None, Query()] = None,
) -> Any:
    if format == "csv":
        from couponry.adapters.db.bulk_codes import stream_codes
        from couponry.services.campaigns.exports import csv_chunks

        coupons.check_campaign_visible(db, actor, campaign_id)
        return StreamingResponse(
            csv_chunks(stream_codes(db, campaign_id)),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="coupons-{campaign_id}.csv"'},
        )
    items, next_cursor = coupons.list_coupons(db, actor, campaign_id, limit=limit, cursor=cursor, now=now)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/v1/coupons/{code}")
def get_coupon(
    code: Annotated[str, Path(min_length=1, max_length=200)],
    request: Request,
    db: DbDep,
    actor: ActorDep,
    lookups: LookupsDep,
    now: NowDep,
) -> Any:
    with lookups.guard(1):
        try:
            found = coupons.get_coupon(db, actor, code, now)
        except (NotFound, Forbidden):  # no such code, or another store's: a failed look-up either way
            lookups.failed(1)
            raise
        lookups.failed(0)
    links = coupon_links(db, request.app.state.settings)
    # the public page; a personal coupon's link carries its holder's signed token
    return {**found, "url": links.url(found["code"], found["customer_id"])}


@router.get("/v1/jobs/{job_id}", tags=["jobs"])
def get_job(job_id: ResourceIdPath, db: DbDep, actor: ActorDep) -> Any:
    return jobs.get_job(db, actor, job_id)
