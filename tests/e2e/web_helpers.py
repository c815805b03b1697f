"""Driving the web pages over plain HTTP (httpx), as a browser would: cookies and the CSRF token."""

from __future__ import annotations

import re

import httpx

from tests.serving import Server, cli

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = _TOKEN.search(page.text)
    assert found, f"no CSRF token on {page.url}"
    return found.group(1)


def make_user(server: Server, email: str, role: str, store_id: str | None = None) -> str:
    """`couponry users create`; returns the generated password (the last line of its output)."""
    args = ["users", "create", "--email", email, "--role", role]
    if store_id:
        args += ["--store-id", store_id]
    return cli(server.database_url, *args).strip().splitlines()[-1]


def browser(server: Server) -> httpx.Client:
    """A client that keeps cookies and does not follow redirects (tests look at them)."""
    return httpx.Client(base_url=server.base, timeout=60, follow_redirects=False)


def sign_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    form = client.get("/sign-in")
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": csrf_of(form)})


def post_form(client: httpx.Client, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    """Open `page`, take its CSRF token, and post `data` to `action` as its form would."""
    token = csrf_of(client.get(page))
    return client.post(action, data={**data, "csrf_token": token})
