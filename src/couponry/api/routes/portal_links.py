"""Portal links: a storefront sends its signed-in customer to their Couponry pages with one of these."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from couponry.api.deps import ActorDep, DbDep, NowDep
from couponry.api.responses import PROBLEMS
from couponry.api.schemas.common import CustomerIdPath
from couponry.services.distribution.portal import create_portal_link

router = APIRouter(prefix="/v1", tags=["customers"], responses=PROBLEMS)


class PortalLink(BaseModel):
    url: str = Field(
        description="The customer's pages (wallet, coupon center), signed; send the customer there"
    )
    expires_at: datetime = Field(description="After this the link shows an 'expired' page; ask for a new one")


@router.post("/customers/{customer_id}/portal-links", status_code=201, response_model=PortalLink)
async def post_portal_link(
    customer_id: CustomerIdPath, request: Request, db: DbDep, actor: ActorDep, now: NowDep
) -> Any:
    """A short-lived signed link to the customer's pages (storefront or admin keys; 404 for an unknown
    customer). Nothing is stored: ask for a new link each time the customer opens their pages."""
    settings = request.app.state.settings
    return await run_in_threadpool(create_portal_link, db, actor, customer_id, now, settings)
