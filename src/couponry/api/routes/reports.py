"""Measuring: campaign statistics, the settlement report and the campaigns report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from couponry.api.deps import ActorDep, DbDep, NowDep
from couponry.api.responses import PROBLEMS, Json
from couponry.api.schemas.common import ResourceIdPath
from couponry.api.schemas.reports import CampaignStatsPublic, SettlementPublic
from couponry.services.reporting import reports, stats

router = APIRouter(tags=["measuring"], responses=PROBLEMS)

# a date (2026-11-01) or an RFC 3339 time (taken as the day it falls on in the shop's time zone)
DayQuery = Annotated[
    str | None,
    Query(min_length=10, max_length=40, pattern=r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:\d{2}))?$"),
]
FromQuery = Annotated[
    str | None,
    Query(
        alias="from",
        min_length=10,
        max_length=40,
        pattern=r"^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:\d{2}))?$",
        description="First day (default: the first campaign's creation)",
    ),
]
CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}}


def _zone(request: Request) -> str:
    return request.app.state.settings.shop_timezone


@router.get("/v1/campaigns/{campaign_id}/stats", response_model=CampaignStatsPublic)
def campaign_stats(
    campaign_id: ResourceIdPath,
    request: Request,
    db: DbDep,
    actor: ActorDep,
    now: NowDep,
    from_: FromQuery = None,
    to: DayQuery = None,
) -> Any:
    return Json(stats.campaign_stats(db, actor, campaign_id, from_, to, _zone(request), now))


@router.get("/v1/reports/settlement", response_model=SettlementPublic)
def settlement(
    request: Request, db: DbDep, actor: ActorDep, now: NowDep, from_: FromQuery = None, to: DayQuery = None
) -> Any:
    return Json(reports.settlement(db, actor, from_, to, _zone(request), now))


@router.get("/v1/reports/settlement.csv", response_class=Response, responses=CSV)
def settlement_csv(
    request: Request, db: DbDep, actor: ActorDep, now: NowDep, from_: FromQuery = None, to: DayQuery = None
) -> Response:
    body = reports.settlement(db, actor, from_, to, _zone(request), now)
    return Response(
        reports.settlement_csv(body),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="settlement-{body["from"]}-{body["to"]}.csv"'},
    )


@router.get("/v1/reports/campaigns.csv", response_class=Response, responses=CSV)
def campaigns_csv(
    request: Request, db: DbDep, actor: ActorDep, now: NowDep, from_: FromQuery = None, to: DayQuery = None
) -> Response:
    period_, rows = reports.campaign_rows(db, actor, from_, to, _zone(request), now)
    return Response(
        "".join(reports.campaigns_csv(rows)),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="campaigns-{period_.start}-{period_.end}.csv"'
        },
    )
