from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, StringConstraints

from couponry.api.deps import ActorDep, DbDep, NowDep
from couponry.api.responses import PROBLEMS
from couponry.api.schemas.common import Flag, Id, ResourceIdPath
from couponry.services.distribution import publications

router = APIRouter(prefix="/v1", tags=["publications"], responses=PROBLEMS)

CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class PublicationIn(BaseModel):
    segment_id: Id | None = None
    customer_ids: (
        Annotated[list[CustomerId], Field(min_length=1, max_length=publications.MAX_LISTED)] | None
    ) = None
    notify: Flag = False


class PublicationOut(BaseModel):
    id: str
    status: str = Field(description="queued | running | succeeded | failed")
    done: int
    total: int
    issued: int
    campaign_id: str
    segment_id: str | None
    notify: bool
    error: str | None


@router.post("/campaigns/{campaign_id}/publications", status_code=202, response_model=PublicationOut)
def create_publication(
    campaign_id: ResourceIdPath, body: PublicationIn, db: DbDep, actor: ActorDep, now: NowDep
) -> Any:
    """Issue one personal coupon of the campaign to each customer of a segment or list (once per
    customer and campaign across publications), optionally mailing each; a job with progress."""
    return publications.create_publication(db, actor, campaign_id, body.model_dump(exclude_none=True), now)


@router.get("/publications/{publication_id}", response_model=PublicationOut)
def get_publication(publication_id: ResourceIdPath, db: DbDep, actor: ActorDep) -> Any:
    return publications.get_publication(db, actor, publication_id)


@router.get(
    "/publications/{publication_id}/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "customer_id,email,code,coupon_url"}},
)
def export_publication(publication_id: ResourceIdPath, db: DbDep, actor: ActorDep) -> StreamingResponse:
    return StreamingResponse(
        publications.export_csv(db, actor, publication_id),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="publication-{publication_id}.csv"'},
    )
