"""Get-work that may wait: ``POST /v1/associates/{id}/get-work?wait=S``.

Without a wait, get-work is one attempt (first come, first served). With one:

- an in-store associate whose home store is in batch mode joins the store's waiting set
  and is served by the owner's next tick, with the solver
  (:mod:`jarvis.store.work.batch`); when the wait ends unserved, one first-come attempt
  follows (the other stores it may help, or its own store whose owner is gone);
- everyone else retries first come, first served until something is claimed or the
  wait is over.

A request counts in the ``jarvis_get_work_waiting`` gauge from the moment it waits (it
joined the waiting set, or its first attempt found nothing) until it is answered.

Each Redis call runs in the server's thread pool; the waiting between calls is an
``asyncio`` sleep, so a waiting request holds no thread: hundreds may wait at once
without starving the other endpoints of the pool.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from jarvis import metrics
from jarvis.store.work.batch import WorkBatch
from jarvis.store.work.queue import Claim, WorkQueue

__all__ = ["get_work"]

#: How often a request waiting on its store's batch looks for its claim, seconds.
POLL_S = 0.05
#: How often a first-come request that waits tries again, seconds.
RETRY_S = 0.1


async def get_work(
    work: WorkQueue,
    batch: WorkBatch | None,
    associate_id: str,
    wait: float,
    *,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Claim | None:
    """Claim work for ``associate_id``, waiting up to ``wait`` seconds for some."""
    if wait <= 0:
        return await run_in_threadpool(work.get_work, associate_id)  # one thread hop
    associate = await run_in_threadpool(work.associate, associate_id)  # 404 before waiting
    deadline = monotonic() + wait
    if (
        batch is not None
        and not associate.remote
        and await run_in_threadpool(batch.in_batch_mode, associate.home_store)
    ):
        ticket = await run_in_threadpool(batch.wait, associate, clock() + wait)
        claim: Claim | None = None
        metrics.GET_WORK_WAITING.inc()
        try:
            while claim is None and monotonic() < deadline:
                await asyncio.sleep(max(0.0, min(POLL_S, deadline - monotonic())))
                claim = await run_in_threadpool(batch.poll, ticket)
        finally:
            metrics.GET_WORK_WAITING.dec()
            if claim is None:
                # Also when the client went away: leave the waiting set for sure.
                claim = batch.give_up(ticket)
        if claim is not None:
            return claim
        return await run_in_threadpool(work.get_work, associate_id)
    claim = await run_in_threadpool(work.get_work, associate_id)
    if claim is not None:
        return claim
    metrics.GET_WORK_WAITING.inc()
    try:
        while claim is None and (left := deadline - monotonic()) > 0:
            await asyncio.sleep(min(RETRY_S, left))
            claim = await run_in_threadpool(work.get_work, associate_id)
    finally:
        metrics.GET_WORK_WAITING.dec()
    return claim
