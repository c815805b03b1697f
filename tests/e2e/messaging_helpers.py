"""Real receivers on loopback for the messaging tests: an SMTP server (aiosmtpd) and the CLI's tick."""

from __future__ import annotations

import asyncio
import email
import os
import subprocess
import sys
from datetime import datetime
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller

from tests.serving import free_port


class SmtpSink:
    """An SMTP server that keeps every message it accepted. `stall_next` seconds: the next message is
    kept, then its reply withheld that long (a server that times out after DATA)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.stall_next = 0.0
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001
        message = email.message_from_bytes(envelope.content, policy=default)
        message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)  # type: ignore[arg-type]
        if self.stall_next:
            stall, self.stall_next = self.stall_next, 0.0
            await asyncio.sleep(stall)
        return "250 OK"

    def start(self) -> SmtpSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["X-Envelope-To"] == address]


def tick(database_url: str, now: datetime, *jobs: str, **env: str) -> dict[str, str]:
    """`couponry tick --now NOW [--job J ...]`; returns {job: status}."""
    args = [sys.executable, "-m", "couponry.cli", "tick", "--now", now.isoformat()]
    for job in jobs:
        args += ["--job", job]
    environment = {**os.environ, "COUPONRY_DATABASE_URL": database_url, "COUPONRY_LOG_LEVEL": "ERROR", **env}
    done = subprocess.run(args, env=environment, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"couponry tick failed: {done.stdout}{done.stderr}")
    return {line.split()[1]: line.split()[0] for line in done.stdout.splitlines()}
