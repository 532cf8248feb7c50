"""The job view's door over plain HTTP: the token, the session cookie, cross-site POSTs,
and the refusal to serve other hosts without a token."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import Page
from sqlalchemy import Engine

from streamjobs.settings import Settings
from streamjobs.web.server import NO_TOKEN_NOTE
from tests.streamjobs.cli.support import streamjobs
from tests.streamjobs.web.conftest import TOKEN, Stack
from tests.streamjobs.web.support import process, served_url

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
"""The csrf field of a rendered form."""


def test_every_page_answers_401_without_the_token_and_the_login_form_is_the_body(
    stack: Stack,
) -> None:
    for path in (
        "/",
        "/runs?q=x",
        "/dlq",
        "/endpoints",
        "/schedules",
        "/run?job=cleanup&event_id=x",
    ):
        answer = httpx.get(stack.url.rstrip("/") + path)
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"] == 'Bearer realm="streamjobs"'
        assert 'name="token"' in answer.text
    wrong = httpx.get(stack.url, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert httpx.get(stack.url + "login").status_code == 200


def test_the_bearer_token_opens_every_page(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for path in ("/", "/runs", "/dlq", "/endpoints", "/schedules"):
            assert client.get(path).status_code == 200, path
        assert TOKEN not in client.get("/").text


def test_a_wrong_token_in_the_login_form_gets_401_and_no_session(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url) as client:
        form = client.get("/login")
        token = CSRF.search(form.text)
        assert token is not None
        answer = client.post("/login", data={"csrf": token[1], "token": "wrong-token-1234567"})
        assert answer.status_code == 401
        assert "wrong token" in answer.text
        assert "sj_session" not in client.cookies
        assert client.get("/").status_code == 401


def test_a_cross_site_post_is_refused_even_with_a_session(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url) as client:
        form = client.get("/login")
        token = CSRF.search(form.text)
        assert token is not None
        signed_in = client.post("/login", data={"csrf": token[1], "token": TOKEN})
        assert signed_in.status_code == 303
        assert client.get("/").status_code == 200
        other_site = client.post(
            "/schedules/cleanup/run",
            data={"csrf": token[1]},
            headers={"Origin": "https://evil.example"},
        )
        assert other_site.status_code == 403
        assert "another site" in other_site.text
        no_field = client.post("/schedules/cleanup/run", data={})
        assert no_field.status_code == 403
        assert "csrf" in no_field.text


def test_the_session_cookie_is_http_only_and_same_site_strict(page: Page) -> None:
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    for name in ("sj_session", "sj_csrf"):
        assert cookies[name]["httpOnly"], name
        assert cookies[name]["sameSite"] == "Strict", name
    assert TOKEN not in cookies["sj_session"]["value"]


def test_without_a_token_a_non_loopback_address_is_refused_with_one_line(
    settings: Settings,
) -> None:
    done = streamjobs(settings, "web", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert done.stderr == (
        "streamjobs: error: WEB_HOST=0.0.0.0 is reachable from other hosts:"
        " set DASHBOARD_TOKEN, or bind 127.0.0.1\n"
    )


def test_without_a_token_it_says_so_at_start_and_serves_loopback_names_only_without_sign_in(
    settings: Settings, db: Engine, tmp_path: Path
) -> None:
    log = tmp_path / "web.log"
    with process(settings, "web", "--port", "0", log=log) as web:
        url = served_url(web)
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url).status_code == 200
        assert httpx.get(url.replace("127.0.0.1", "localhost")).status_code == 200
        rebound = httpx.get(url, headers={"Host": "evil.example"})
        assert rebound.status_code == 403
        assert "loopback" in rebound.text
    assert f"streamjobs web: {NO_TOKEN_NOTE}\n" in log.read_text()


def test_a_token_shorter_than_16_characters_is_refused_with_one_line(settings: Settings) -> None:
    done = streamjobs(settings, "web", "--port", "0", DASHBOARD_TOKEN="short")
    assert done.returncode == 2
    assert done.stderr == "streamjobs: error: DASHBOARD_TOKEN: must be at least 16 characters\n"
