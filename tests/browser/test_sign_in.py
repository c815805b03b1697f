"""Signing in and out in a real browser, and what each role may open."""

from __future__ import annotations

from tests.browser.conftest import check_a11y, screenshot, sign_in


def test_a_visitor_is_sent_to_sign_in_and_comes_back_to_the_page_asked_for(page, make_user) -> None:
    email, password = make_user("admin")
    page.goto("/dashboard?status=active")
    assert "/sign-in" in page.url
    check_a11y(page)
    screenshot(page, "sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard?status=active")


def test_a_wrong_password_is_refused_on_the_form(page, make_user) -> None:
    email, _ = make_user("admin")
    page.goto("/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That e-mail and password do not match an account."
    check_a11y(page)


def test_signing_out_ends_the_session(page, make_user) -> None:
    email, password = make_user("admin")
    sign_in(page, email, password)
    assert page.get_by_role("heading", name="Campaigns").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/sign-in")
    page.goto("/dashboard")
    assert "/sign-in" in page.url


def test_a_pos_user_cannot_open_the_dashboard(page, make_user) -> None:
    email, password = make_user("pos")
    sign_in(page, email, password)
    response = page.goto("/dashboard")
    assert response.status == 403
    assert page.get_by_role("heading", name="Not for this account").is_visible()
    check_a11y(page)
