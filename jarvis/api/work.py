"""The store work endpoints: submit, register associates, get work, and a claim's
complete, release and heartbeat; a store's queue and its dead set (list, retry,
discard)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fastapi import APIRouter, Query, Request, Response

from jarvis import metrics
from jarvis.api import waiting
from jarvis.api.errors import ERROR_RESPONSES
from jarvis.api.fastjson import claim_response
from jarvis.api.schemas import (
    MAX_WAIT_S,
    ClaimOut,
    DeadItemOut,
    DeadOut,
    EnqueueOut,
    HeartbeatOut,
    HolderIn,
    QueuedOut,
    QueueOut,
    StatusOut,
    WorkUpdateIn,
)
from jarvis.errors import BadInputError, DuplicateItemError
from jarvis.models.work import Associate, WorkItem
from jarvis.store.keys import check_partition_id

if TYPE_CHECKING:
    from jarvis.api.app import ApiContext

__all__ = ["work_router"]


def _store(store: str) -> str:
    return check_partition_id(store)


def work_router(context: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["work"], responses=ERROR_RESPONSES)

    @router.post("/work", status_code=201, response_model=EnqueueOut)
    def submit_work(item: WorkItem) -> EnqueueOut:
        """Queue a work item in its store (409 if its id is queued, claimed or recently done)."""
        if not context.work.enqueue(item):
            raise DuplicateItemError(
                f"work item {item.id!r} is already queued, claimed or recently done"
            )
        return EnqueueOut(item=item.id, queued=True)

    @router.put("/associates/{associate_id}")
    def register_associate(associate_id: str, associate: Associate) -> Associate:
        """Register (or update) an associate so they can ask for work."""
        if associate.id != associate_id:
            raise BadInputError(
                f"associate id in path ({associate_id!r}) and body ({associate.id!r}) differ"
            )
        context.work.register_associate(associate)
        return associate

    @router.post(
        "/associates/{associate_id}/get-work",
        response_model=ClaimOut,
        responses={204: {"description": "no work this associate may take (within the wait)"}},
    )
    async def get_work(
        request: Request,
        associate_id: str,
        wait: float = Query(
            0.0,
            ge=0.0,
            le=MAX_WAIT_S,
            description="seconds to wait for work when there is none now (long poll); in a "
            "store in batch mode, the owner's next tick assigns the waiting associates",
        ),
    ) -> Response:
        """Claim the highest-priority item this associate may take (204 if none)."""
        started = time.perf_counter()
        claim = await waiting.get_work(
            context.work,
            context.batch,
            associate_id,
            wait,
            disconnected=request.is_disconnected if wait > 0 else None,
            inline=context.inline_get_work,
        )
        if wait == 0:
            metrics.GET_WORK_SECONDS.labels("http").observe(time.perf_counter() - started)
        if claim is None:
            return Response(status_code=204)
        return claim_response(claim)  # ClaimOut's JSON, encoded once (see fastjson)

    @router.post("/stores/{store}/work/{item_id}/complete")
    def complete(store: str, item_id: str, holder: HolderIn) -> StatusOut:
        """Mark a claimed item done (409 unless this associate holds the claim)."""
        context.work.complete(_store(store), item_id, holder.associate, holder.token)
        return StatusOut(item=item_id, status="done")

    @router.post("/stores/{store}/work/{item_id}/release")
    def release(store: str, item_id: str, holder: HolderIn) -> StatusOut:
        """Give a claimed item back to its queue, at its old place (status ``queued``),
        or, when it has used up its attempts, to the store's dead set (``dead``)."""
        queued = context.work.release(_store(store), item_id, holder.associate, holder.token)
        return StatusOut(item=item_id, status="queued" if queued else "dead")

    @router.post("/stores/{store}/work/{item_id}/heartbeat")
    def heartbeat(store: str, item_id: str, holder: HolderIn) -> HeartbeatOut:
        """Extend a claim's lease."""
        expires = context.work.heartbeat(_store(store), item_id, holder.associate, holder.token)
        return HeartbeatOut(expires_at=expires)

    @router.delete("/stores/{store}/work/{item_id}")
    def cancel(store: str, item_id: str) -> StatusOut:
        """Cancel a work item, queued, claimed or dead (again: still 200; 404 if the store
        does not have it). Its holder's next heartbeat or complete answers 409
        ``item_cancelled``."""
        context.work.cancel(_store(store), item_id)
        return StatusOut(item=item_id, status="cancelled")

    @router.patch("/stores/{store}/work/{item_id}")
    def update(store: str, item_id: str, body: WorkUpdateIn) -> StatusOut:
        """Change a work item's priority, due time or duration in place; answers where it
        is (``queued``: moved in its queue; ``claimed``; ``dead``)."""
        changes = body.changes()
        if not changes:
            raise BadInputError("nothing to update: give priority, due_at or duration_s")
        where = context.work.update(_store(store), item_id, changes)
        return StatusOut(item=item_id, status=where)

    @router.get("/stores/{store}/queue")
    def queue(store: str, limit: int = Query(100, ge=1, le=1000)) -> QueueOut:
        """A store's queued items, next first, with its counts."""
        store = _store(store)
        queued = context.work.queue(store, limit)
        items = [QueuedOut(item=q.item, start_by=q.start_by) for q in queued]
        return QueueOut(store=store, counts=context.work.counts(store), items=items)

    @router.get("/stores/{store}/dead")
    def dead(store: str, limit: int = Query(100, ge=1, le=1000)) -> DeadOut:
        """A store's dead set: items that used up their attempts, oldest first."""
        store = _store(store)
        items = [
            DeadItemOut(
                item=d.item,
                attempts=d.attempts,
                died_at=d.died_at,
                why=d.why,
                history=list(d.history),
            )
            for d in context.work.dead_items(store, limit)
        ]
        return DeadOut(store=store, size=context.work.counts(store)["dead"], items=items)

    @router.post("/stores/{store}/dead/{item_id}/retry")
    def retry_dead(store: str, item_id: str) -> StatusOut:
        """Queue a dead item again at its old place, attempts from zero (404 if not dead)."""
        context.work.retry_dead(_store(store), item_id)
        return StatusOut(item=item_id, status="queued")

    @router.delete("/stores/{store}/dead/{item_id}")
    def discard_dead(store: str, item_id: str) -> StatusOut:
        """Drop a dead item for good (404 if not dead)."""
        context.work.discard_dead(_store(store), item_id)
        return StatusOut(item=item_id, status="discarded")

    return router
