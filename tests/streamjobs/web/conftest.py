"""The job view under test: ``streamjobs web`` and ``streamjobs consume all`` on the real
broker and database, a real webhook receiver, and headless Chromium driven by Playwright.

One stack per test module: starting the consumers and the view takes seconds,
so a module's tests share them and each uses endpoints and events of its own.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import Engine, text

from consumers.webhook.registry import add_endpoint
from schemas.tables import metadata
from streamjobs.kafka import all_topic_sets, create_topics
from streamjobs.settings import Settings, load_settings
from tests.conftest import TEST_PARTITIONS
from tests.services import Services, delete_topics
from tests.streamjobs.web.support import Hooks, process, receiving, served_url

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium; Playwright drives it and downloads no browser of its own."""

ARTIFACTS = Path(__file__).parents[3] / ".artifacts" / "screenshots"
"""Where the browser tests save a screenshot of each view (gitignored)."""

TOKEN = "test-dashboard-token-" + uuid.uuid4().hex
"""The ``DASHBOARD_TOKEN`` of the view under test."""

STACK_ENV = {
    "DASHBOARD_TOKEN": TOKEN,
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "WEBHOOK_CONFIG_CACHE_TTL": "0s",
    "RETRY_DELAYS": "300ms,300ms",
    "RETRY_JITTER": "0",
    "KAFKA_SESSION_TIMEOUT": "6s",
}
"""Settings of the processes under test: short retries, endpoint changes seen at once."""


@dataclass
class Stack:
    """The running view and consumers, and what a test needs to drive them."""

    url: str
    settings: Settings
    engine: Engine
    hooks: Hooks
    receiver_port: int
    log: Path

    def endpoint(self, name: str) -> uuid.UUID:
        """Register an endpoint at the receiver path ``/<name>``; returns its id."""
        added = add_endpoint(self.engine, f"http://127.0.0.1:{self.receiver_port}/{name}")
        return added.id


@pytest.fixture(scope="module")
def stack(
    services: Services, migrated_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The view (with ``TOKEN``) and ``consume all``, on topics of a prefix of their own."""
    prefix = f"test-{uuid.uuid4().hex[:10]}."
    settings = load_settings(
        kafka_bootstrap_servers=services.kafka_bootstrap_servers,
        database_url=services.database_url,
        kafka_topic_prefix=prefix,
        kafka_topic_partitions=TEST_PARTITIONS,
        retry_delays=(0.3, 0.3),
        log_format="text",
    )
    empty(migrated_engine)
    create_topics(settings, all_topic_sets(settings))
    log = tmp_path_factory.mktemp("stack") / "processes.log"
    try:
        with (
            receiving() as (hooks, port),
            process(settings, "consume", "all", log=log, **STACK_ENV),
            process(settings, "web", "--port", "0", log=log, **STACK_ENV) as web,
        ):
            yield Stack(
                url=served_url(web),
                settings=settings,
                engine=migrated_engine,
                hooks=hooks,
                receiver_port=port,
                log=log,
            )
    finally:
        delete_topics(services.kafka_bootstrap_servers, prefix)
        empty(migrated_engine)  # later tests may count endpoints or runs


def empty(engine: Engine) -> None:
    """Empty every table, as the ``db`` fixture does."""
    names = ", ".join(table.name for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium from Debian's package; a missing one fails, never skips."""
    if not CHROMIUM.is_file() or shutil.which(str(CHROMIUM)) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A new browser context signed in through the login form."""
    context = browser.new_context(base_url=stack.url, viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.goto("/")
    assert tab.get_by_role("heading", name="Sign in").is_visible()
    tab.get_by_label("Dashboard token").fill(TOKEN)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(stack.url)
    yield tab
    context.close()


def screenshot(page: Page, name: str) -> None:
    """Save the full page as ``.artifacts/screenshots/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
