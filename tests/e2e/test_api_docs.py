"""`/docs` works offline: the page refers only to assets served by Couponry itself."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

import couponry.api
from tests.serving import Server

ASSETS = Path(couponry.api.__file__).parent / "static" / "swagger"


def test_the_docs_page_loads_swagger_ui_only_from_this_server_and_every_asset_is_served(
    server: Server,
) -> None:
    # given the docs page
    page = httpx.get(server.base + "/docs")
    references = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?'([^']+)'""", page.text)
    urls = [a or b for a, b in references]
    # when every asset it refers to is fetched
    fetched = {url: httpx.get(server.base + url) for url in urls}
    # then nothing is fetched from elsewhere, and each asset is served in full with its type
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert sorted(urls) == [
        "/openapi.json",
        "/static/swagger/favicon-32x32.png",
        "/static/swagger/swagger-ui-bundle.js",
        "/static/swagger/swagger-ui.css",
    ]
    assert not re.search(r"https?://", page.text)
    assert {url: r.status_code for url, r in fetched.items()} == dict.fromkeys(urls, 200)
    bundle = fetched["/static/swagger/swagger-ui-bundle.js"]
    assert bundle.content == (ASSETS / "swagger-ui-bundle.js").read_bytes()
    assert "javascript" in bundle.headers["content-type"]
    assert fetched["/static/swagger/swagger-ui.css"].headers["content-type"].startswith("text/css")
    assert fetched["/openapi.json"].json()["info"]["title"] == "Couponry"


def test_redoc_which_would_need_a_cdn_is_not_served_and_swagger_ui_ships_with_its_licence(
    server: Server,
) -> None:
    assert httpx.get(server.base + "/redoc").status_code == 404
    assert "Apache License" in (ASSETS / "LICENSE").read_text()
