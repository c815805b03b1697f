"""Configuration, read once from the environment (prefix COUPONRY_)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COUPONRY_", extra="ignore")

    database_url: str = "sqlite:///couponry.db"
    redis_url: str | None = None
    # failed code look-ups per API key and minute: slowed after the first, refused after the second
    throttle_slow_after: int = 10
    throttle_block_after: int = 30
    throttle_window_seconds: int = 60
    sweep_interval_seconds: float = 20.0
    idempotency_retention_hours: float = 24.0
    job_poll_seconds: float = 1.0
    run_background_workers: bool = True
    db_pool_size: int = 10
    # counter rows a campaign-wide limit is spread over on PostgreSQL (1: one row; SQLite always 1)
    limit_slots: int = Field(8, ge=1, le=1000)
    log_level: str = "INFO"


@lru_cache
def get_settings() -> Settings:
    return Settings()
