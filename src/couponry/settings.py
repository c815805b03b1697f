"""Configuration, read once from the environment (prefix COUPONRY_)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COUPONRY_", extra="ignore")

    database_url: str = "sqlite:///couponry.db"
    redis_url: str | None = None
    # failed code look-ups per API key and minute: slowed after the first, refused after the second
    throttle_slow_after: int = 10
    throttle_block_after: int = 30
    throttle_window_seconds: int = 60
    # request bodies past these sizes are refused with 413 before they are parsed
    max_body_bytes: int = 1024 * 1024
    max_codes_body_bytes: int = 4 * 1024 * 1024  # POST /v1/campaigns/{id}/coupons (10,000 vanity codes)
    sweep_interval_seconds: float = 20.0
    idempotency_retention_hours: float = 24.0
    job_poll_seconds: float = 1.0
    # a running job's worker renews its lease with every batch it stores; a job whose lease has run out
    # (its worker died) is taken over by another worker, which continues where it stopped
    job_lease_seconds: float = 30.0
    run_background_workers: bool = True
    db_pool_size: int = 10
    # counter rows a campaign-wide limit is spread over on PostgreSQL (1: one row; SQLite always 1)
    limit_slots: int = Field(8, ge=1, le=1000)
    log_level: str = "INFO"
    # messaging (docs/messaging.md)
    smtp_url: str | None = None  # smtp://host:port, smtp+starttls://user:pass@host:587, smtps://host:465
    smtp_timeout_seconds: float = 60.0
    mail_from: str = "Couponry <noreply@localhost>"
    # where customers reach this server: coupon pages and unsubscribe links start with it (https in
    # production: mail clients want an https List-Unsubscribe)
    public_url: str = "http://127.0.0.1:8000"
    # signs unsubscribe links and personal coupon links; generated and kept in the database if unset
    secret_key: str | None = None
    expiry_reminder_days: int = 3
    # how long a customer's portal link (POST /v1/customers/{id}/portal-links) can be used
    portal_link_minutes: int = Field(30, ge=1, le=24 * 60)
    webhook_timeout_seconds: float = 10.0
    outbox_retention_days: int = 90  # settled mails and webhook events are forgotten after this
    scheduler_poll_seconds: float = 1.0
    # the shop's time zone (IANA name): the days of statistics and reports, a wheel's free spins a day
    shop_timezone: str = "UTC"
    # GET /metrics answers only admin keys unless this is true (see docs/operations.md)
    metrics_public: bool = False
    # web pages (couponry.web): how long a sign-in lasts, and failed sign-ins per e-mail and window
    # before they are slowed and then refused (per client address: five times as many)
    session_hours: float = 12.0
    signin_slow_after: int = 3
    signin_block_after: int = 10
    signin_window_seconds: int = 900

    @field_validator("shop_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name, e.g. Europe/Paris)") from None
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
