"""The job view in a real browser, with the consumers delivering to a real receiver.

Each test drives headless Chromium the way an operator would and checks the
effect where it lands: the receiver, the delivery log, ``job_runs``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from playwright.sync_api import Locator, Page, expect
from sqlalchemy import insert, text

from consumers.webhook.registry import disable_endpoint
from producers.dlq import Scan, Selection
from producers.publisher import Publisher
from schemas.tables import email_deliveries
from schemas.topics import WEBHOOK_SEND
from streamjobs.kafka import topic_set
from tests.kafka_support import wait_until
from tests.streamjobs.web.conftest import Stack, screenshot

DELIVERY_TIMEOUT = 90.0
"""Seconds an event may take to reach its end through the consumers (they may still be joining)."""

SECRET_VALUE = "sk_live_never_shown_" + uuid.uuid4().hex
"""A secret inside a payload: the run detail must mask it."""


def send(stack: Stack, endpoint: uuid.UUID, event_id: str, **payload: object) -> None:
    """Publish one ``webhook.send`` event through the producer API."""
    with Publisher(stack.settings) as publisher:
        publisher.send_webhook(endpoint, "test.event", payload, event_id=event_id)


def attempts(stack: Stack, event_id: str) -> list[tuple[int, str]]:
    """``(attempt, outcome)`` of each logged attempt of ``event_id``, in order."""
    with stack.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT attempt, outcome FROM webhook_deliveries WHERE event_id = :e"
                " ORDER BY attempt"
            ),
            {"e": event_id},
        )
        return [(row.attempt, row.outcome) for row in rows]


def test_the_overview_lists_every_job(page: Page) -> None:
    for job in ("webhook", "email", "email-batch", "cleanup"):
        expect(page.locator(f'tr[data-job="{job}"]')).to_be_visible()
    expect(page.locator("table.overview")).to_contain_text("streamjobs.webhook")
    screenshot(page, "overview")


def test_a_search_by_event_id_finds_the_run(page: Page, stack: Stack) -> None:
    endpoint = stack.endpoint("search")
    event_id = f"evt-search-{uuid.uuid4().hex[:8]}"
    send(stack, endpoint, event_id, order=1)
    send(stack, endpoint, f"evt-other-{uuid.uuid4().hex[:8]}", order=2)
    wait_until(lambda: len(stack.hooks.answered("/search", 200)) == 2, timeout=DELIVERY_TIMEOUT)
    page.get_by_label("search runs").fill(event_id)
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(event_id)
    expect(rows.first).to_contain_text("succeeded")
    screenshot(page, "runs")
    rows.first.get_by_role("link", name=event_id).click()
    expect(page.locator("tr.attempt")).to_have_count(1)


def test_a_run_with_three_attempts_shows_all_three(page: Page, stack: Stack) -> None:
    endpoint = stack.endpoint("failing")
    stack.hooks.status["/failing"] = 503
    event_id = f"evt-three-{uuid.uuid4().hex[:8]}"
    send(stack, endpoint, event_id, invoice="inv_1", api_key=SECRET_VALUE)
    wait_until(lambda: len(attempts(stack, event_id)) == 3, timeout=DELIVERY_TIMEOUT)
    page.goto(f"/runs?q={event_id}")
    page.get_by_role("link", name=event_id).click()
    rows = page.locator("tr.attempt")
    expect(rows).to_have_count(3)
    for number, started_by in enumerate(("first attempt", "retry", "retry"), start=1):
        row = rows.nth(number - 1)
        expect(row.locator("td").first).to_have_text(str(number))
        expect(row).to_contain_text(started_by)
        expect(row).to_contain_text("HTTP 503")
        expect(row).to_contain_text(re.compile(r"webhook\.send(\.retry\.\d)? · \d+ · \d+"))
    expect(page.locator("h1")).to_contain_text(event_id)
    expect(page.locator(".tag.failed").first).to_be_visible()
    expect(page.locator("pre.payload")).to_contain_text('"invoice": "inv_1"')
    assert SECRET_VALUE not in page.content()
    screenshot(page, "run-detail")
    page.goto(f"/runs?job=webhook&outcome=failed&endpoint={endpoint}")
    expect(page.locator("table.runs tbody tr")).to_have_count(1)
    page.goto(f"/runs?job=webhook&outcome=succeeded&endpoint={endpoint}")
    expect(page.locator("table.runs tbody tr")).to_have_text("No run matches.")


def test_replaying_a_dead_letter_from_the_dlq_view_gets_it_delivered(
    page: Page, stack: Stack
) -> None:
    endpoint = stack.endpoint("refusing")
    stack.hooks.status["/refusing"] = 400  # fatal: dead-lettered after one attempt
    event_id = f"evt-replay-{uuid.uuid4().hex[:8]}"
    send(stack, endpoint, event_id, n=1)
    wait_until(lambda: attempts(stack, event_id) == [(1, "fatal")], timeout=DELIVERY_TIMEOUT)
    stack.hooks.status["/refusing"] = 200
    page.goto("/dlq?topic=webhook.send")
    letter = page.locator("tr.letter", has_text=event_id)
    wait_for_letter(page, letter)
    expect(letter).not_to_contain_text("replayed before")
    letter.get_by_role("button", name="Replay…").click()
    expect(page.locator(".count")).to_contain_text("Dry run: 1 of")
    page.get_by_role("button", name="Replay 1").click()
    expect(page.locator(".note")).to_contain_text("replayed 1 dead letters")
    wait_until(lambda: event_id in stack.hooks.answered("/refusing", 200), timeout=DELIVERY_TIMEOUT)
    wait_until(lambda: attempts(stack, event_id) == [(1, "fatal"), (2, "success")])
    page.reload()
    expect(page.locator("tr.letter", has_text=event_id)).to_contain_text("replayed before")
    screenshot(page, "dlq")
    page.goto(f"/runs?q={event_id}")
    page.get_by_role("link", name=event_id).click()
    expect(page.locator("tr.attempt").nth(1)).to_contain_text("replay")


def wait_for_letter(page: Page, letter: Locator) -> None:
    """Reload the DLQ view until ``letter`` is listed (the DLQ write follows the attempt row)."""

    def listed() -> bool:
        if letter.count():
            return True
        page.reload()
        return False

    wait_until(listed, timeout=DELIVERY_TIMEOUT, interval=0.5)


def test_enabling_an_endpoint_and_recovering_since_t_delivers_its_parked_events(
    page: Page, stack: Stack
) -> None:
    endpoint = stack.endpoint("parked")
    disable_endpoint(stack.engine, endpoint, "maintenance")
    since = datetime.now(UTC).isoformat(timespec="seconds")
    parked = [f"evt-parked-{n}-{uuid.uuid4().hex[:6]}" for n in range(2)]
    for event_id in parked:
        send(stack, endpoint, event_id)
    for event_id in parked:
        wait_until(
            lambda e=event_id: attempts(stack, e) == [(1, "fatal")], timeout=DELIVERY_TIMEOUT
        )
    page.goto("/endpoints")
    section = page.locator(f'section.endpoint[data-id="{endpoint}"]')
    expect(section).to_contain_text("maintenance")
    section.get_by_role("button", name="Enable").click()
    section = page.locator(f'section.endpoint[data-id="{endpoint}"]')
    expect(section.locator(".tag")).to_have_text("active")
    wait_for_dead_letters(stack, parked)
    section.get_by_label("recover failed since").fill(since)
    section.get_by_role("button", name="Recover").click()
    expect(page.locator(".note")).to_contain_text("replayed 2 dead letters")
    wait_until(
        lambda: sorted(stack.hooks.answered("/parked", 200)) == sorted(parked),
        timeout=DELIVERY_TIMEOUT,
    )
    section.get_by_role("button", name="Send test event").click()
    expect(page.locator(".note")).to_contain_text("test event streamjobs.test:")
    wait_until(
        lambda: any(i.startswith("streamjobs.test:") for i in stack.hooks.answered("/parked", 200)),
        timeout=DELIVERY_TIMEOUT,
    )
    page.reload()
    screenshot(page, "endpoints")
    page.goto("/")
    webhook = page.locator('tr[data-job="webhook"]')
    expect(webhook.locator(".mark")).to_be_visible()  # the runs that failed above
    screenshot(page, "overview-with-failures")


def wait_for_dead_letters(stack: Stack, event_ids: list[str]) -> None:
    """Until every one of ``event_ids`` is in ``webhook.send.dlq``."""
    dlq = topic_set(stack.settings, WEBHOOK_SEND).dlq

    def parked() -> bool:
        with Scan(stack.settings, dlq, Selection(event_ids=frozenset(event_ids))) as scan:
            return len(list(scan)) == len(event_ids)

    wait_until(parked, timeout=DELIVERY_TIMEOUT, interval=0.5)


def test_run_now_on_the_schedule_runs_a_cleanup(page: Page, stack: Stack) -> None:
    page.goto("/schedules")
    expect(page.locator("body")).to_contain_text("0 3 * * *")
    page.get_by_role("button", name="Run now").click()
    expect(page.locator(".note")).to_contain_text("published cleanup audit.cleanup:manual:")

    def finished() -> bool:
        with stack.engine.connect() as connection:
            return bool(
                connection.execute(
                    text(
                        "SELECT 1 FROM job_runs WHERE job = 'cleanup' AND trigger = 'manual'"
                        " AND outcome = 'ok'"
                    )
                ).first()
            )

    wait_until(finished, timeout=DELIVERY_TIMEOUT, interval=0.5)
    page.reload()
    run = page.locator("tr.cleanup-run").first
    expect(run).to_contain_text("manual")
    expect(run).to_contain_text("succeeded")
    screenshot(page, "schedules")


def test_a_search_by_resend_id_finds_the_email_run_and_its_chunks(page: Page, stack: Stack) -> None:
    # Rows as the email job writes them; no Resend is needed to read them back.
    event_id = f"order-{uuid.uuid4().hex[:8]}"
    resend_id = f"re_{uuid.uuid4().hex[:12]}"
    with stack.engine.begin() as connection:
        connection.execute(
            insert(email_deliveries).values(
                event_id=event_id, chunk=0, outcome="sent", resend_ids=[resend_id], recipients=2
            )
        )
    page.get_by_label("search runs").fill(resend_id)
    page.get_by_role("button", name="Search").click()
    row = page.locator("table.runs tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("email")
    row.get_by_role("link", name=event_id).click()
    expect(page.locator("tr.attempt")).to_contain_text(resend_id)
    expect(page.locator("main")).to_contain_text("no Kafka position is known")
