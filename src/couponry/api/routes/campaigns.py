from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from couponry.api.deps import ActorDep, DbDep, NowDep
from couponry.api.problems import validation_code
from couponry.api.responses import PROBLEMS
from couponry.api.schemas.campaigns import CampaignCreate, CampaignPage, CampaignPublic, CampaignUpdate
from couponry.api.schemas.common import Cursor, ResourceIdPath
from couponry.services.campaigns import campaigns

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"], responses=PROBLEMS)


@router.post("", status_code=201, response_model=CampaignPublic)
@validation_code("invalid_campaign")
def create_campaign(body: CampaignCreate, db: DbDep, actor: ActorDep, now: NowDep) -> dict:
    spec = body.model_dump(mode="json")
    if "issuer" not in body.model_fields_set:
        spec["issuer"] = None
    return campaigns.create_campaign(db, actor, spec, now)


@router.get("", response_model=CampaignPage)
def list_campaigns(
    db: DbDep,
    actor: ActorDep,
    status: Annotated[str | None, Query(pattern="^(draft|active|paused|archived)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[Cursor | None, Query()] = None,
) -> dict:
    items, next_cursor = campaigns.list_campaigns(db, actor, status=status, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{campaign_id}", response_model=CampaignPublic)
def get_campaign(campaign_id: ResourceIdPath, db: DbDep, actor: ActorDep) -> dict:
    return campaigns.get_campaign(db, actor, campaign_id)


@router.patch("/{campaign_id}", response_model=CampaignPublic)
@validation_code("invalid_campaign")
def update_campaign(
    campaign_id: ResourceIdPath, body: CampaignUpdate, db: DbDep, actor: ActorDep, now: NowDep
) -> dict:
    patch = {k: v for k, v in body.model_dump(mode="json").items() if k in body.model_fields_set}
    return campaigns.update_campaign(db, actor, campaign_id, patch, now)
