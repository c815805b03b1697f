"""The hot read sends its codes as a text-array literal it writes itself (adapters.db.driver.text_array):
PostgreSQL must read it as the very array psycopg's own dump of the list gives."""

from __future__ import annotations

import os

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from couponry.adapters.db.driver import text_array

URL = os.environ.get("COUPONRY_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(
    not URL.startswith("postgres"), reason="a PostgreSQL literal; this runs in the PostgreSQL pass"
)

TRICKY = ["A", "", " spaced ", 'quo"te', "back\\slash", "{,}", "NULL", "null", "é", "a,b", '\\"', "\t"]


@pytest.fixture(scope="module")
def conn() -> psycopg.Connection:
    with psycopg.connect(URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
        yield c


def _as_postgres_reads_it(conn: psycopg.Connection, value: object) -> list[str]:
    return conn.execute("SELECT CAST(%s AS text[])", [value]).fetchone()[0]


def test_tricky_codes_read_back_as_the_list_they_came_from(conn: psycopg.Connection) -> None:
    assert _as_postgres_reads_it(conn, text_array(TRICKY)) == TRICKY == _as_postgres_reads_it(conn, TRICKY)


def test_no_codes_is_the_empty_array(conn: psycopg.Connection) -> None:
    assert _as_postgres_reads_it(conn, text_array([])) == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))), max_size=5)
)
def test_any_list_of_strings_reads_back_as_itself(conn: psycopg.Connection, values: list[str]) -> None:
    assert _as_postgres_reads_it(conn, text_array(values)) == values


def test_a_code_matches_through_the_literal_as_through_the_list(conn: psycopg.Connection) -> None:
    sql = "SELECT count(*) FROM (VALUES ('A'), ('B')) v(code) WHERE code = ANY(%s)"
    assert (
        conn.execute(sql, [text_array(["A", "C"])]).fetchone() == conn.execute(sql, [["A", "C"]]).fetchone()
    )
