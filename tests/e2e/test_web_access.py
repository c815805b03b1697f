"""The web pages' access rules over plain HTTP: sessions, CSRF, roles and stores, escaping, headers,
sign-in throttling. (tests/browser checks the same in Chromium.)"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import E2E_SETTINGS
from tests.e2e.web_helpers import browser, csrf_of, make_user, post_form, sign_in
from tests.serving import Server, create_key, running_server


@pytest.fixture(scope="module")
def server(module_db_url: str) -> Iterator[Server]:
    # an hour-long window: a window edge inside the throttling test would reset its count
    settings = {
        **E2E_SETTINGS,
        "COUPONRY_SIGNIN_SLOW_AFTER": "2",
        "COUPONRY_SIGNIN_BLOCK_AFTER": "4",
        "COUPONRY_SIGNIN_WINDOW_SECONDS": "3600",
    }
    with running_server(module_db_url, **settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def admin_api(server: Server) -> Iterator[httpx.Client]:
    with server.client(create_key(server.database_url, "admin")) as client:
        yield client


def _campaign(api: httpx.Client, name: str, store_id: str | None = None) -> dict:
    body = {"name": name, "currency": "USD", "discount": {"type": "amount", "amount": 500}}
    if store_id:
        body["issuer"] = {"type": "store", "store_id": store_id}
    created = api.post("/v1/campaigns", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def test_a_visitor_is_redirected_to_sign_in_with_the_page_to_come_back_to(server: Server) -> None:
    with browser(server) as web:
        answer = web.get("/dashboard/campaigns/new")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/dashboard/campaigns/new"


def test_signing_in_sets_an_httponly_lax_session_cookie_and_signing_out_ends_the_session(
    server: Server,
) -> None:
    password = make_user(server, "cookie@example.com", "admin")
    with browser(server) as web:
        answer = sign_in(web, "cookie@example.com", password)
        assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
        cookie = next(
            v for k, v in answer.headers.multi_items() if k == "set-cookie" and "couponry_session" in v
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # http here
        session = web.cookies["couponry_session"]
        assert web.get("/dashboard").status_code == 200
        out = post_form(web, "/dashboard", "/sign-out", {})
        assert out.status_code == 303 and out.headers["location"] == "/sign-in"
    # the old cookie, replayed, opens nothing: the session row is gone
    with browser(server) as replay:
        replay.cookies.set("couponry_session", session)
        assert replay.get("/dashboard").status_code == 303


def test_a_forged_session_cookie_is_refused(server: Server) -> None:
    with browser(server) as web:
        web.cookies.set("couponry_session", "made-up-token.bad-signature")
        assert web.get("/dashboard").status_code == 303


def test_a_form_post_without_its_csrf_token_is_refused(server: Server, admin_api: httpx.Client) -> None:
    password = make_user(server, "csrf@example.com", "admin")
    with browser(server) as web:
        sign_in(web, "csrf@example.com", password)
        form = {
            "name": "No token",
            "currency": "USD",
            "discount.type": "amount",
            "discount.amount": "1.00",
            "conditions.channels.online": "on",
        }
        missing = web.post("/dashboard/campaigns/new", data=form)
        wrong = web.post("/dashboard/campaigns/new", data={**form, "csrf_token": "x" * 43})
        right = post_form(web, "/dashboard/campaigns/new", "/dashboard/campaigns/new", form)
    assert missing.status_code == 403 and "Form expired" in missing.text
    assert wrong.status_code == 403
    assert right.status_code == 303
    names = [c["name"] for c in admin_api.get("/v1/campaigns", params={"limit": 200}).json()["items"]]
    assert names.count("No token") == 1


def test_a_sign_in_form_from_another_browser_is_refused(server: Server) -> None:
    password = make_user(server, "csrf2@example.com", "admin")
    with browser(server) as attacker, browser(server) as victim:
        token = csrf_of(attacker.get("/sign-in"))
        victim.get("/sign-in")  # the victim has its own seed cookie
        answer = victim.post(
            "/sign-in", data={"email": "csrf2@example.com", "password": password, "csrf_token": token}
        )
    assert answer.status_code == 403


def test_a_store_user_sees_and_opens_only_its_own_stores_campaigns(
    server: Server, admin_api: httpx.Client
) -> None:
    mine = _campaign(admin_api, "Store one sale", "s1")
    theirs = _campaign(admin_api, "Store two sale", "s2")
    password = make_user(server, "store1@example.com", "store", "s1")
    with browser(server) as web:
        sign_in(web, "store1@example.com", password)
        listing = web.get("/dashboard")
        own = web.get(f"/dashboard/campaigns/{mine['id']}")
        other = web.get(f"/dashboard/campaigns/{theirs['id']}")
        other_edit = web.get(f"/dashboard/campaigns/{theirs['id']}/edit")
        other_csv = web.get(f"/dashboard/campaigns/{theirs['id']}/codes.csv")
        pause_other = post_form(
            web, "/dashboard", f"/dashboard/campaigns/{theirs['id']}/status", {"status": "paused"}
        )
        admin_page = web.get("/dashboard/keys")
    assert "Store one sale" in listing.text and "Store two sale" not in listing.text
    assert own.status_code == 200
    assert other.status_code == 403 and "Store two sale" not in other.text
    assert other_edit.status_code == 403 and other_csv.status_code == 403
    assert pause_other.status_code == 403
    assert admin_api.get(f"/v1/campaigns/{theirs['id']}").json()["status"] == "active"
    assert admin_page.status_code == 403


def test_a_store_users_new_campaign_belongs_to_its_store(server: Server, admin_api: httpx.Client) -> None:
    password = make_user(server, "store3@example.com", "store", "s3")
    with browser(server) as web:
        sign_in(web, "store3@example.com", password)
        form = {
            "name": "Made by store three",
            "currency": "EUR",
            "discount.type": "percent",
            "discount.percent": "12.5",
            "conditions.channels.pos": "on",
            "issuer.type": "platform",
        }
        made = post_form(web, "/dashboard/campaigns/new", "/dashboard/campaigns/new", form)
    assert made.status_code == 303
    campaign = admin_api.get(f"/v1/campaigns/{made.headers['location'].split('/')[3].split('?')[0]}").json()
    assert campaign["issuer"] == {"type": "store", "store_id": "s3"}
    assert campaign["discount"]["percent"] in ("12.5", "12.500000", 12.5)
    assert campaign["conditions"]["channels"] == ["pos"]


def test_a_pos_user_cannot_open_the_dashboard(server: Server) -> None:
    password = make_user(server, "till@example.com", "pos")
    with browser(server) as web:
        answer = sign_in(web, "till@example.com", password)
        assert answer.headers["location"] == "/pos"
        for page in ("/dashboard", "/dashboard/codes", "/dashboard/keys", "/dashboard/campaigns/new"):
            refused = web.get(page)
            assert refused.status_code == 403, page
            assert "Not for this account" in refused.text


def test_an_xss_payload_in_a_campaign_name_is_shown_as_text(server: Server, admin_api: httpx.Client) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    campaign = _campaign(admin_api, payload)
    password = make_user(server, "xss@example.com", "admin")
    with browser(server) as web:
        sign_in(web, "xss@example.com", password)
        for page in (
            "/dashboard",
            f"/dashboard/campaigns/{campaign['id']}",
            f"/dashboard/campaigns/{campaign['id']}/edit",
        ):
            html = web.get(page).text
            assert payload not in html, page
            assert (
                "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
            ), page


def test_every_page_carries_a_strict_content_security_policy(server: Server) -> None:
    password = make_user(server, "csp@example.com", "admin")
    with browser(server) as web:
        pages = [web.get("/sign-in")]
        sign_in(web, "csp@example.com", password)
        pages += [
            web.get(p) for p in ("/dashboard", "/dashboard/keys", "/dashboard/users", "/dashboard/codes")
        ]
    for page in pages:
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp and "style-src 'self';" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert page.headers["cache-control"] == "no-store"
        assert " style=" not in page.text and "<script>" not in page.text  # nothing inline to allow


def test_sign_in_after_the_page_asked_for_never_leaves_the_site(server: Server) -> None:
    password = make_user(server, "next@example.com", "admin")
    with browser(server) as web:
        form = web.get("/sign-in", params={"next": "//evil.example/x"})
        answer = web.post(
            "/sign-in",
            data={
                "email": "next@example.com",
                "password": password,
                "next": "//evil.example/x",
                "csrf_token": csrf_of(form),
            },
        )
    assert answer.headers["location"] == "/dashboard"


def test_failed_sign_ins_are_refused_after_the_limit_even_with_the_right_password(server: Server) -> None:
    password = make_user(server, "guess@example.com", "admin")
    with browser(server) as web:
        statuses = []
        for _ in range(4):
            form = web.get("/sign-in")
            statuses.append(
                web.post(
                    "/sign-in",
                    data={
                        "email": "guess@example.com",
                        "password": "wrong guess!",
                        "csrf_token": csrf_of(form),
                    },
                ).status_code
            )
        form = web.get("/sign-in")
        blocked = web.post(
            "/sign-in", data={"email": "guess@example.com", "password": password, "csrf_token": csrf_of(form)}
        )
    assert statuses == [401, 401, 401, 401]
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in blocked.text


def test_the_web_pages_are_not_in_the_openapi_document(server: Server) -> None:
    paths = httpx.get(f"{server.base}/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/dashboard", "/sign-in", "/sign-out", "/static"))]


def test_an_admin_creates_a_user_in_the_dashboard_who_can_then_sign_in(server: Server) -> None:
    password = make_user(server, "boss@example.com", "admin")
    with browser(server) as web:
        sign_in(web, "boss@example.com", password)
        made = post_form(
            web,
            "/dashboard/users",
            "/dashboard/users",
            {"email": "Newbie@Example.com", "role": "store", "store_id": "s9"},
        )
        assert made.status_code == 201
        new_password = made.text.split('id="new-password">')[1].split("<")[0]
        again = post_form(
            web, "/dashboard/users", "/dashboard/users", {"email": "newbie@example.com", "role": "pos"}
        )
        assert again.status_code == 409
    with browser(server) as newbie:
        assert sign_in(newbie, "newbie@example.com", new_password).headers["location"] == "/dashboard"


def test_an_admin_creates_and_revokes_an_api_key_in_the_dashboard(server: Server) -> None:
    password = make_user(server, "keys@example.com", "admin")
    with browser(server) as web:
        sign_in(web, "keys@example.com", password)
        made = post_form(web, "/dashboard/keys", "/dashboard/keys", {"name": "till 4", "role": "pos"})
        assert made.status_code == 201
        secret = made.text.split('id="new-key">')[1].split("<")[0]
        assert (
            httpx.get(
                f"{server.base}/v1/coupons/NOPE", headers={"Authorization": f"Bearer {secret}"}
            ).status_code
            == 404
        )
        listing = web.get("/dashboard/keys").text  # oldest first: the new key's form is the last one
        key_id = listing.rsplit("/dashboard/keys/", 1)[1].split("/revoke")[0]
        revoked = post_form(web, "/dashboard/keys", f"/dashboard/keys/{key_id}/revoke", {})
        assert revoked.status_code == 303
    import time

    time.sleep(1.1)
    assert (
        httpx.get(f"{server.base}/v1/coupons/NOPE", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )
