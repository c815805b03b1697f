"""`couponry serve --demo` as a new user meets it: the admin key is the last thing shown once the server is
up, it is saved in a file, and the demo shop holds what the README says it holds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from couponry.services.demo import DEMO_CAMPAIGNS
from tests.serving import free_port

README = Path(__file__).resolve().parents[2] / "README.md"


def test_serve_demo_shows_the_admin_key_framed_after_start_up_and_saves_it_in_a_file(
    tmp_path: Path, db_url: str
) -> None:
    # given a demo server logging at INFO, its console (stdout and stderr) read as one stream
    port = free_port()
    env = {**os.environ, "COUPONRY_DATABASE_URL": db_url, "COUPONRY_LOG_LEVEL": "INFO"}
    process = subprocess.Popen(
        [sys.executable, "-m", "couponry.cli", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        # when it has started
        console: list[str] = []
        assert process.stdout is not None
        frames = 0
        while frames < 2:
            line = process.stdout.readline()
            assert line, "serve --demo ended before showing its key:\n" + "".join(console)
            console.append(line)
            frames += line.startswith("+---")
        key = (tmp_path / "couponry-demo-key.txt").read_text().strip()
        email, password = (tmp_path / "couponry-demo-password.txt").read_text().split()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as browser:
            sign_in_page = browser.get("/sign-in")
            token = re.search(r'name="csrf_token" value="([^"]+)"', sign_in_page.text).group(1)
            signed_in = browser.post(
                "/sign-in", data={"email": email, "password": password, "csrf_token": token}
            )
            dashboard = browser.get("/dashboard")
            [portal_line] = [line for line in console if line.startswith("demo customer")]
            portal = urlsplit(portal_line.split(": ", 1)[1].strip()).path
            points, rewards, wheel = (browser.get(f"{portal}/{p}") for p in ("points", "rewards", "wheel"))
        listed = httpx.get(
            f"http://127.0.0.1:{port}/v1/campaigns",
            headers={"Authorization": f"Bearer {key}"},
            params={"limit": 50},
        )
    finally:
        process.terminate()
        process.wait(15)
        if process.stdout:
            process.stdout.close()
    # then the frame comes after uvicorn's start-up lines, and holds the key that is saved in the file
    text = "".join(console)
    frame = text[text.index("+---") :]
    assert "Uvicorn running on" in text[: text.index("+---")]
    assert re.search(rf"\|\s+{re.escape(key)}\s+\|", frame)
    assert str(tmp_path / "couponry-demo-key.txt") in frame
    assert oct((tmp_path / "couponry-demo-key.txt").stat().st_mode & 0o777) == "0o600"
    assert listed.status_code == 200 and len(listed.json()["items"]) == len(DEMO_CAMPAIGNS) + 1
    # and the same frame says how to sign in to the dashboard as the demo's admin user
    assert re.search(rf"\|\s+e-mail\s+{re.escape(email)}\s+\|", frame)
    assert re.search(rf"\|\s+password\s+{re.escape(password)}\s+\|", frame)
    assert "/dashboard" in frame
    assert oct((tmp_path / "couponry-demo-password.txt").stat().st_mode & 0o777) == "0o600"
    # and the demo customer's own pages, from the link printed for them, show their points to spend
    assert points.status_code == 200 and re.search(r"\b250\b", points.text)
    assert rewards.status_code == 200 and "Free shipping" in rewards.text
    assert wheel.status_code == 200 and "Daily wheel" in wheel.text
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/dashboard"
    assert dashboard.status_code == 200 and "Campaigns" in dashboard.text


def test_the_readme_names_every_demo_campaign() -> None:
    readme = README.read_text()
    demo_codes = [code for _, codes in DEMO_CAMPAIGNS for code in codes]
    assert [code for code in demo_codes if f"`{code}`" not in readme] == []
    assert "VIP birthday" in readme and f"{len(DEMO_CAMPAIGNS) + 1} campaigns" in readme
