"""Browser tests: the real server (tests/serving.py) driven by Playwright with Debian's Chromium.

Never `playwright install`: the browser is /usr/bin/chromium (scripts/test.sh installs the Debian
package when it is missing). These tests run in the SQLite pass only (they test pages, not the
database; the PostgreSQL pass skips them) and are marked `browser`.

Fixtures and helpers for page tests (see src/couponry/web/README.md):
- `web` (module): the running server, with `web.base`, `web.database_url`.
- `browser` (module): Chromium. `page`: a fresh context (own cookies) at 1280x800 on `web`; it fails
  the test if the page logged a Content-Security-Policy violation or a JavaScript error.
- `make_user(role, store_id=None)`: a user made with `couponry users create`; returns (email, password).
- `sign_in(page, email, password)`, `check_a11y(page)` (axe-core: no serious or critical violation),
  `screenshot(page, name)` (docs/screenshots/NAME-desktop.png at 1280 and NAME-phone.png at 390 wide).
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import E2E_SETTINGS
from tests.serving import Server, cli, running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
AXE = "/static/web/vendor/axe-core-4.14.1.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="browser tests run in the SQLite pass only")
    skip_missing = pytest.mark.skip(reason=f"{CHROMIUM} is missing (scripts/test.sh installs it)")
    for item in items:
        if HERE not in Path(str(item.fspath)).resolve().parents:
            continue
        item.add_marker(pytest.mark.browser)
        if os.environ.get("COUPONRY_TEST_DATABASE_URL"):
            item.add_marker(skip_pg)
        elif not shutil.which(CHROMIUM):
            item.add_marker(skip_missing)


@pytest.fixture(scope="module")
def web(module_db_url: str) -> Iterator[Server]:
    with running_server(module_db_url, **E2E_SETTINGS) as srv:
        yield srv


_emails = itertools.count()


@pytest.fixture(scope="module")
def make_user(web: Server) -> Callable[..., tuple[str, str]]:
    def make(role: str = "admin", store_id: str | None = None) -> tuple[str, str]:
        email = f"{role}{next(_emails)}-{os.getpid()}@example.com"
        args = ["users", "create", "--email", email, "--role", role]
        if store_id:
            args += ["--store-id", store_id]
        password = cli(web.database_url, *args).strip().splitlines()[-1]
        return email, password

    return make


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one module. Not session-wide: while Playwright's sync API runs it holds an asyncio
    loop on the thread, and a later test on the same xdist worker that calls `asyncio.run` would fail;
    a module-scoped fixture is closed as soon as the worker moves on to another module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, web: Server) -> Iterator[object]:
    context = browser.new_context(base_url=web.base, viewport=DESKTOP)  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    tab.on("pageerror", lambda e: problems.append(f"JavaScript error: {e}"))
    yield tab
    context.close()
    assert problems == [], f"the page broke its Content-Security-Policy or raised: {problems}"


def sign_in(page: object, email: str, password: str) -> None:
    page.goto("/sign-in")  # type: ignore[attr-defined]
    page.get_by_label("E-mail").fill(email)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    page.wait_for_url(lambda url: "/sign-in" not in url)  # type: ignore[attr-defined]


def check_a11y(page: object) -> None:
    """Run axe-core (vendored, loaded from the server so the page's CSP allows it) on the page as it is:
    fail on any serious or critical violation."""
    page.wait_for_load_state("load")  # type: ignore[attr-defined]
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):  # type: ignore[attr-defined]
        page.add_script_tag(url=AXE)  # type: ignore[attr-defined]
    result = page.evaluate(  # type: ignore[attr-defined]
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert bad == [], f"accessibility violations on {page.url}: {bad}"  # type: ignore[attr-defined]


def screenshot(page: object, name: str) -> list[Path]:
    """Save the page at desktop (1280) and phone (390) width under docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    saved = []
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)  # type: ignore[attr-defined]
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        saved.append(path)
    page.set_viewport_size(DESKTOP)  # type: ignore[attr-defined]
    return saved
