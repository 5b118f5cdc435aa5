"""Get-work that may wait: ``POST /v1/associates/{id}/get-work?wait=S``.

Without a wait, get-work is one attempt (first come, first served). With one:

- an in-store associate whose home store is in batch mode joins the store's waiting set
  and is served by the owner's next tick, with the solver
  (:mod:`jarvis.store.work.batch`); when the wait ends unserved, one first-come attempt
  follows (the other stores it may help, or its own store whose owner is gone);
- everyone else retries first come, first served until something is claimed or the
  wait is over.

A request whose client went away (``disconnected()`` says so between polls, or the
server cancels it) gives back at once whatever it claimed: it leaves the waiting set,
and a claim the owner made for it meanwhile, or one it has just taken first come, goes
straight back to its queue (released, at its old place), instead of waiting out its
lease.

A request counts in the ``jarvis_get_work_waiting`` gauge from the moment it waits (it
joined the waiting set, or its first attempt found nothing) until it is answered.

Each Redis call runs in the server's thread pool; the waiting between calls is an
``asyncio`` sleep, so a waiting request holds no thread: hundreds may wait at once
without starving the other endpoints of the pool.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool

from jarvis import metrics
from jarvis.errors import JarvisError
from jarvis.store.work.batch import Ticket, WorkBatch
from jarvis.store.work.queue import Claim, WorkQueue

__all__ = ["get_work"]

log = logging.getLogger(__name__)

#: How often a request waiting on its store's batch looks for its claim, seconds.
POLL_S = 0.05
#: How often a first-come request that waits tries again, seconds.
RETRY_S = 0.1


async def _connected() -> bool:
    return False


async def get_work(
    work: WorkQueue,
    batch: WorkBatch | None,
    associate_id: str,
    wait: float,
    *,
    disconnected: Callable[[], Awaitable[bool]] | None = None,
    inline: bool = False,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Claim | None:
    """Claim work for ``associate_id``, waiting up to ``wait`` seconds for some.

    ``disconnected()`` tells whether the client went away (Starlette's
    ``Request.is_disconnected``); then nothing is kept and None is returned.
    ``inline``: a get-work without a wait runs its one Redis script on the event loop's
    thread instead of hopping to the thread pool (for a process that only serves HTTP,
    one of several: ``jarvis api``). Two wake-ups fewer per request; the price is that
    a Redis that stops answering holds that process's loop for up to ``redis_timeout``.
    """
    gone = disconnected or _connected
    if wait <= 0:
        if inline:
            return work.get_work(associate_id)
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
                if await gone():
                    break
                claim = await run_in_threadpool(batch.poll, ticket)
        except BaseException:  # cancelled, or Redis failed: keep nothing
            _give_back(work, batch, ticket, None)
            raise
        finally:
            metrics.GET_WORK_WAITING.dec()
        if await gone():
            _give_back(work, batch, ticket, claim)
            return None
        if claim is None:
            claim = await run_in_threadpool(batch.give_up, ticket)
        if claim is not None:
            return claim
        return await _first_come(work, associate_id, gone)
    claim = await _first_come(work, associate_id, gone)
    if claim is not None:
        return claim
    metrics.GET_WORK_WAITING.inc()
    try:
        while claim is None and (left := deadline - monotonic()) > 0 and not await gone():
            await asyncio.sleep(min(RETRY_S, left))
            claim = await _first_come(work, associate_id, gone)
    finally:
        metrics.GET_WORK_WAITING.dec()
    return claim


async def _first_come(
    work: WorkQueue, associate_id: str, gone: Callable[[], Awaitable[bool]]
) -> Claim | None:
    """One first-come attempt; a claim taken for a client that left is released."""
    claim = await run_in_threadpool(work.get_work, associate_id)
    if claim is not None and await gone():
        _give_back(work, None, None, claim)
        return None
    return claim


def _give_back(
    work: WorkQueue, batch: WorkBatch | None, ticket: Ticket | None, claim: Claim | None
) -> None:
    """Leave the waiting set (taking a claim made meanwhile) and release any claim, at
    once. Runs in the event loop (also while the request is being cancelled, when it may
    not await); never raises, so the original exception, if any, is the one seen."""
    try:
        if batch is not None and ticket is not None:
            claim = batch.give_up(ticket) or claim
        if claim is not None:
            work.release(claim.store, claim.item.id, claim.associate, claim.token)
            log.info(
                "store %s: item %s released, its get-work client went away",
                claim.store,
                claim.item.id,
            )
    except JarvisError as exc:
        log.warning("get-work: could not give back a claim of a client that left: %s", exc)
