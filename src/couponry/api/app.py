"""The application factory: one FastAPI app per Settings, no engine created at import time."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from couponry import __version__
from couponry.adapters.db.engine import Database
from couponry.adapters.db.loop_reads import LoopReads
from couponry.adapters.throttle import make_throttle
from couponry.api import docs, problems
from couponry.api.body_limit import BodyLimitMiddleware
from couponry.api.deps import RevocationReads, get_actor
from couponry.api.fast_path import CouponryApp
from couponry.api.logging import configure_logging
from couponry.api.metrics import metrics_response
from couponry.api.middleware import EdgeMiddleware
from couponry.api.routes import (
    campaigns,
    checkout,
    coupon_center,
    coupons,
    customers,
    loyalty,
    portal_links,
    public,
    publications,
    reports,
    segments,
    triggers,
    unsubscribe,
    webhooks,
)
from couponry.api.threads import make_pool
from couponry.services.access.actors import Permission
from couponry.services.jobs.worker import BackgroundWorker
from couponry.services.scheduling.catalog import default_registry
from couponry.services.scheduling.scheduler import Ticker
from couponry.settings import Settings, get_settings
from couponry.web import install as install_web

GC_YOUNG_THRESHOLD = 10_000  # the youngest generation's threshold in a server process (Python's: 700)


def create_app(settings: Settings | None = None) -> CouponryApp:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            settings.database_url, pool_size=settings.db_pool_size, limit_slots=settings.limit_slots
        )
        app.state.db = db
        # PostgreSQL: the validation's read on the async driver, on the event loop (adapters.db.loop_reads)
        app.state.loop_reads = LoopReads(db.url, settings.db_pool_size) if db.is_postgres else None
        if app.state.loop_reads is not None:
            await app.state.loop_reads.open()
        app.state.throttle = make_throttle(settings)
        app.state.revocation_reads = RevocationReads()
        app.state.threads = make_pool()
        worker = None
        if settings.run_background_workers:
            worker = BackgroundWorker(
                db,
                poll_seconds=settings.job_poll_seconds,
                sweep_seconds=settings.sweep_interval_seconds,
                idempotency_retention=timedelta(hours=settings.idempotency_retention_hours),
                job_lease=timedelta(seconds=settings.job_lease_seconds),
                scheduler=Ticker(db, settings, default_registry()),
                scheduler_seconds=settings.scheduler_poll_seconds,
            )
            worker.start()
        # Everything alive now (modules, the app, pools) lives as long as the process: keep it out of
        # the collector's generations, so a full collection does not walk it in the middle of a request.
        gc.collect()
        gc.freeze()
        # A full collection runs once the objects promoted to the oldest generation since the last one
        # reach a quarter of those it holds; under load, every young collection promotes whatever the
        # requests in flight hold, so at Python's default (700) a full collection, 13-17 ms here, came
        # every 6-8 s in each process. Ten times fewer young collections promote ten times less.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            if worker:
                worker.stop()
            app.state.threads.shutdown(wait=False, cancel_futures=True)  # uvicorn waited for requests
            if app.state.loop_reads is not None:
                await app.state.loop_reads.close()
            db.dispose()

    app = CouponryApp(
        title="Couponry",
        version=__version__,
        description="Coupon campaigns, unguessable codes, validation and exactly-once redemption.",
        lifespan=lifespan,
        docs_url=None,  # served by api/docs.py from the package, not from a CDN
        redoc_url=None,
    )
    docs.install(app)
    app.state.settings = settings
    problems.install(app)
    install_web(app)  # the web pages (out of the OpenAPI schema); after problems: it wraps their handlers
    for module in (
        campaigns,
        coupons,
        checkout,
        customers,
        segments,
        publications,
        triggers,
        webhooks,
        public,
        unsubscribe,
        coupon_center,
        portal_links,
        reports,
        loyalty,
    ):
        app.include_router(module.router)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> Any:
        try:
            with app.state.db.read() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # the point of the endpoint is to say so
            return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
        return {"status": "ok", "database": app.state.db.engine.dialect.name}

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics: for admin keys, or for anyone with COUPONRY_METRICS_PUBLIC=true (e.g. when
        the port is reachable only by the scraper); see docs/operations.md."""
        if not settings.metrics_public:
            actor = await get_actor(request, request.headers.get("authorization"))
            actor.require(Permission.READ_METRICS)
        body, content_type = metrics_response()
        return Response(body, media_type=content_type)

    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, codes_max_bytes=settings.max_codes_body_bytes
    )
    app.add_middleware(EdgeMiddleware)  # outermost: every answer, a 413 included, gets its headers and log
    app.install_fast_paths(checkout.FAST_PATHS + customers.FAST_PATHS, settings.max_body_bytes)
    return app
