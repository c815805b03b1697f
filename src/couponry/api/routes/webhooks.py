"""Webhook endpoints (admin keys): register, list, delete, and see an endpoint's deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field, StringConstraints

from couponry.api.deps import ActorDep, DbDep, NowDep
from couponry.api.responses import PROBLEMS
from couponry.api.schemas.common import ResourceIdPath
from couponry.services.messaging import webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], responses=PROBLEMS)


class WebhookIn(BaseModel):
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    events: Annotated[
        list[Annotated[str, StringConstraints(max_length=50)]], Field(min_length=1, max_length=20)
    ]


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret; shown only in this answer")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    status: str = Field(description="pending | sending | delivered | failed | cancelled")
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    items: list[DeliveryOut]


@router.post("", status_code=201, response_model=WebhookCreated)
def create_webhook(body: WebhookIn, db: DbDep, actor: ActorDep, now: NowDep) -> Any:
    """Deliveries are POSTs of `{"id", "type", "created_at", "data"}` signed in `Couponry-Signature`."""
    return webhooks.create_webhook(db, actor, body.url, body.events, now)


@router.get("", response_model=WebhookList)
def list_webhooks(db: DbDep, actor: ActorDep) -> Any:
    return {"items": webhooks.list_webhooks(db, actor)}


@router.delete("/{webhook_id}", status_code=204, response_class=Response)
def delete_webhook(webhook_id: ResourceIdPath, db: DbDep, actor: ActorDep, now: NowDep) -> Response:
    webhooks.delete_webhook(db, actor, webhook_id, now)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList)
def list_deliveries(
    webhook_id: ResourceIdPath, db: DbDep, actor: ActorDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> Any:
    return {"items": webhooks.list_deliveries(db, actor, webhook_id, limit)}
