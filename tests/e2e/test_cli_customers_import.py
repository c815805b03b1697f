"""`couponry customers import FILE.csv` as a user runs it: upserts by id, skips bad rows whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select

from couponry.adapters.db.engine import normalize_url
from couponry.adapters.db.tables import customers
from tests.e2e.builders import database_fingerprint


def run_import(db_url: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COUPONRY_DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "couponry.cli", "customers", "import", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def rows(db_url: str) -> dict[str, dict]:
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as conn:
            return {r.id: r._asdict() for r in conn.execute(select(customers))}
    finally:
        engine.dispose()


def test_import_upserts_by_id_and_reports_bad_rows_by_line_number(db_url: str, tmp_path: Path) -> None:
    # given a file with good rows, a row whose e-mail is bad and a row with a bad attribute object
    path = tmp_path / "customers.csv"
    path.write_text(
        "id,email,name,birthday,tags,attributes,marketing_consent,signed_up_at\n"
        'c1,ann@example.com,Ann,1990-05-01,vip;newsletter,"{""plan"": ""gold""}",true,2024-01-01T00:00:00Z\n'
        "c2,not-an-email,Bob,,,,false,\n"
        "c3,cid@example.com,Cid,,b2b,{oops,no,\n"
        "c4,,Dee,2000-02-30,,,,\n"
        'c5,eve@example.com,"Eve, with a comma",,,,yes,\n'
    )
    # when it is imported
    done = run_import(db_url, path)
    # then the good rows are saved and each bad row is named by its line and left out whole
    assert done.returncode == 1, done.stderr
    assert "line 3: skipped: email" in done.stderr
    assert "line 4: skipped: attributes" in done.stderr
    assert "line 5: skipped: birthday" in done.stderr
    assert "imported 2 customers (2 new, 0 updated); 3 rows skipped" in done.stdout
    saved = rows(db_url)
    assert sorted(saved) == ["c1", "c5"]
    assert saved["c1"]["tags"] == ["vip", "newsletter"] and saved["c1"]["attributes"] == {"plan": "gold"}
    assert saved["c1"]["marketing_consent"] is True and saved["c1"]["signed_up_at"].year == 2024
    assert saved["c5"]["name"] == "Eve, with a comma" and saved["c5"]["referral_code"].startswith("r-")

    # when a second file updates c1 and refers a new customer by c1's referral code
    code = saved["c1"]["referral_code"]
    again = tmp_path / "again.csv"
    again.write_text(f"id,name,referred_by\nc1,Ann B,\nc6,Fay,{code}\nc7,Gil,r-unknown\n")
    done = run_import(db_url, again)
    assert "line 4: skipped: referred_by: no customer has this referral code" in done.stderr
    assert "imported 2 customers (1 new, 1 updated); 1 rows skipped" in done.stdout
    saved = rows(db_url)
    # then c1 keeps its sign-up and code, and c6 is referred by c1
    assert saved["c1"]["name"] == "Ann B" and saved["c1"]["referral_code"] == code
    assert saved["c1"]["signed_up_at"].year == 2024
    assert saved["c6"]["referred_by"] == code and saved["c6"]["referrer_id"] == "c1"
    assert "c7" not in saved


def test_a_file_without_an_id_column_is_refused_whole(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("email,name\na@example.com,A\n")
    before = database_fingerprint(db_url)
    done = run_import(db_url, path)
    assert done.returncode == 2 and "id" in done.stderr
    assert database_fingerprint(db_url) == before


def test_importing_10000_rows_in_batches_shows_progress_and_saves_them_all(
    db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "many.csv"
    with path.open("w") as fh:
        fh.write("id,email,tags,marketing_consent\n")
        for i in range(10_000):
            fh.write(f"m{i:05d},m{i}@example.com,t{i % 7};all,{'true' if i % 2 else 'false'}\n")
    done = run_import(db_url, path)
    assert done.returncode == 0, done.stderr
    assert "imported 10000 customers (10000 new, 0 updated); 0 rows skipped" in done.stdout
    assert "Importing customers" in done.stderr
    engine = create_engine(normalize_url(db_url))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(customers)).scalar_one() == 10_000
        codes = conn.execute(select(func.count(func.distinct(customers.c.referral_code)))).scalar_one()
        assert codes == 10_000
    engine.dispose()
