"""``listener.woken``: a follower's or the checkpointer's wait for its wake-up that never
swallows its task's cancellation — with ``asyncio.wait_for`` (Python 3.11) a cancellation
that came as the event was set was lost, the loop went on, and a projector told to stop
(SIGTERM from its dying supervisor) waited for it forever."""

from __future__ import annotations

import asyncio

import pytest

from grondslag.projector.listener import woken


async def test_a_cancellation_as_the_event_is_set_ends_the_waiting_loop() -> None:
    event = asyncio.Event()
    rounds = 0

    async def follow() -> None:  # as LogFollower.run waits between its batches
        nonlocal rounds
        while True:
            rounds += 1
            await woken(event, 5)
            event.clear()

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.01)
    event.set()  # a NOTIFY arrives …
    task.cancel()  # … as the projector stops
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), 1)
    assert task.cancelled() and rounds == 1


async def test_it_says_whether_the_event_came_in_time() -> None:
    event = asyncio.Event()
    assert await woken(event, 0.01) is False
    event.set()
    assert await woken(event, 0.01) is True
    assert await woken(event, None) is True
