"""Driving the public pages over plain HTTP (httpx): the CSRF token of a page (a form field or htmx's
header), signing in as a new user of a role."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.serving import Server, cli

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_HEADER = re.compile(r'"X-CSRF-Token": "([^"]+)"')


def csrf_of(html: str) -> str:
    found = _FIELD.search(html) or _HEADER.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def signed_in(server: Server, role: str, store_id: str | None = None) -> httpx.Client:
    """A browser-like client (cookies kept) signed in as a new user of `role`."""
    email = f"{role}-{uuid.uuid4().hex[:10]}@example.com"
    args = ["users", "create", "--email", email, "--role", role] + (
        ["--store-id", store_id] if store_id else []
    )
    password = cli(server.database_url, *args).strip().splitlines()[-1]
    client = httpx.Client(base_url=server.base, timeout=60)
    token = csrf_of(client.get("/sign-in").text)
    response = client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.text
    return client
