"""Real receivers on loopback for the messaging tests: an SMTP server (aiosmtpd) and the CLI's tick."""

from __future__ import annotations

import asyncio
import email
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from email.message import EmailMessage
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


class WebhookReceiver:
    """An HTTP endpoint on loopback that does what API.md asks of receivers: checks the signature in
    constant time, refuses a `t` more than 300 s from its clock, and accepts each event id once.
    `script` holds the statuses to answer first (e.g. [500, 500]); then it answers 200."""

    def __init__(self, script: list[int] | None = None) -> None:
        self.secret = ""
        self.script = list(script or [])
        self.posts: list[dict] = []  # every request that reached it, verified or not
        self.accepted: list[dict] = []
        self.refused: list[str] = []
        self._seen: set[str] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.receive(raw, self.headers.get("Couponry-Signature", ""))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def receive(self, raw: bytes, header: str) -> int:
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        self.posts.append(json.loads(raw))
        try:
            t = int(parts["t"])
        except (KeyError, ValueError):
            self.refused.append("no timestamp")
            return 400
        expected = hmac.new(self.secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            self.refused.append("bad signature")
            return 401
        if abs(time.time() - t) > 300:
            self.refused.append("stale timestamp")
            return 400
        if self.script:
            return self.script.pop(0)
        event = json.loads(raw)
        if event["id"] not in self._seen:  # a retry may repeat a delivery: accept each id once
            self._seen.add(event["id"])
            self.accepted.append(event)
        return 200

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
