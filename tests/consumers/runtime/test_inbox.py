"""The inbox hands items out first in, first out, and wakes tasks one by one while there is work."""

from __future__ import annotations

import asyncio

from consumers.runtime.inbox import Inbox


async def take(inbox: Inbox[str], taken: list[str]) -> None:
    """A handler task's loop: wait when empty, else take the next item."""
    while True:
        if not inbox.items:
            await inbox.wait()
        taken.append(inbox.items.popleft())


async def take_and_suspend(inbox: Inbox[str], taken: list[str]) -> None:
    """A handler task whose handler waits for I/O: it takes one item and holds on."""
    if not inbox.items:
        await inbox.wait()
    taken.append(inbox.items.popleft())
    await asyncio.Event().wait()


async def settle() -> None:
    """Let every task that can run, run."""
    for _ in range(5):
        await asyncio.sleep(0)


def test_items_come_out_in_the_order_they_went_in() -> None:
    async def scenario() -> list[str]:
        inbox: Inbox[str] = Inbox()
        taken: list[str] = []
        inbox.put(["a", "b"])
        inbox.put(["c"])
        task = asyncio.create_task(take(inbox, taken))
        await settle()
        task.cancel()
        return taken

    assert asyncio.run(scenario()) == ["a", "b", "c"]


def test_a_waiting_task_wakes_when_items_arrive() -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        inbox: Inbox[str] = Inbox()
        taken: list[str] = []
        task = asyncio.create_task(take(inbox, taken))
        await settle()
        before = list(taken)
        inbox.put(["a"])
        await settle()
        task.cancel()
        return before, taken

    assert asyncio.run(scenario()) == ([], ["a"])


def test_one_item_wakes_one_of_the_waiting_tasks() -> None:
    async def scenario() -> int:
        inbox: Inbox[str] = Inbox()
        waits = [asyncio.create_task(inbox.wait()) for _ in range(3)]
        await settle()
        inbox.put(["a"])
        await settle()
        woken = sum(task.done() for task in waits)
        for task in waits:
            task.cancel()
        return woken

    assert asyncio.run(scenario()) == 1


def test_tasks_wake_in_a_chain_until_every_item_is_taken() -> None:
    async def scenario() -> list[str]:
        inbox: Inbox[str] = Inbox()
        taken: list[str] = []
        tasks = [asyncio.create_task(take_and_suspend(inbox, taken)) for _ in range(5)]
        await settle()
        inbox.put(["a", "b", "c"])
        await settle()
        for task in tasks:
            task.cancel()
        return taken

    assert asyncio.run(scenario()) == ["a", "b", "c"]


def test_waiting_tasks_wake_one_loop_turn_after_another() -> None:
    async def scenario() -> list[int]:
        inbox: Inbox[str] = Inbox()
        taken: list[str] = []
        tasks = [asyncio.create_task(take_and_suspend(inbox, taken)) for _ in range(4)]
        await settle()
        inbox.put(["a", "b", "c", "d"])
        counts = []
        for _ in range(4):
            await asyncio.sleep(0)  # one turn of the loop
            counts.append(len(taken))
        for task in tasks:
            task.cancel()
        return counts

    # Not all four at once: a task whose handler never suspends takes the whole
    # batch before the next one runs, and the rest are not woken for nothing.
    assert asyncio.run(scenario()) == [1, 2, 3, 4]


def test_a_task_cancelled_after_its_wakeup_passes_the_wakeup_on() -> None:
    async def scenario() -> list[str]:
        inbox: Inbox[str] = Inbox()
        first = asyncio.create_task(inbox.wait())
        taken: list[str] = []
        await settle()
        second = asyncio.create_task(take(inbox, taken))
        await settle()
        inbox.put(["a"])  # wakes ``first``, which is cancelled before it runs
        first.cancel()
        await settle()
        second.cancel()
        return taken

    assert asyncio.run(scenario()) == ["a"]
