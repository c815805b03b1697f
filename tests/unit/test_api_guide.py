"""The user's API guide (docs/api.md) keeps up with the server: every endpoint and reason code is in it."""

from __future__ import annotations

import re
from pathlib import Path

from couponry.api.app import create_app
from couponry.domain.reasons import Reason
from couponry.settings import Settings

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _template(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_the_api_guide_names_every_endpoint_the_server_documents() -> None:
    guide = GUIDE.read_text()
    named = {_template(p) for p in re.findall(r"`(?:GET|POST|PUT|PATCH|DELETE) (/[^`? ]*)", guide)}
    served = create_app(Settings(database_url="sqlite://")).openapi()["paths"]
    assert sorted(_template(p) for p in served if _template(p) not in named) == []


def test_the_api_guide_explains_every_reason_a_code_can_be_refused_for() -> None:
    guide = GUIDE.read_text()
    assert [r.value for r in Reason if f"| `{r.value}` |" not in guide] == []


def test_the_api_guide_points_nowhere_outside_the_checkout() -> None:
    assert "../" not in GUIDE.read_text()
