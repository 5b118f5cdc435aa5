"""The HTTP interface of a member (FastAPI): submit work, get work, claims, views, health.

Every member serves it; get-work is one atomic Redis script, so it is correct from any
member. Bad input is a 4xx with a reason, always as ``{"error": ..., "detail": ...}``:

=====================================  ======
what                                   status
=====================================  ======
malformed JSON or body                 422
bad id, bad event, bad parameter       400
unknown associate                      404
item not claimed by you / lapsed       409
duplicate work item                    409
Redis or ZooKeeper unreachable         503
=====================================  ======

The OpenAPI description is served at ``/openapi.json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from jarvis import __version__, metrics
from jarvis.api.schemas import (
    ClaimOut,
    EnqueueOut,
    ErrorOut,
    EventsIn,
    EventsOut,
    HeartbeatOut,
    HolderIn,
    QueueOut,
    ReadyOut,
)
from jarvis.errors import (
    JarvisError,
    NotClaimedError,
    ServerError,
    StoreError,
    UnknownAssociateError,
    ValidationError,
)
from jarvis.models.events import validate_event
from jarvis.models.work import Associate, WorkItem
from jarvis.store.keys import check_partition_id
from jarvis.store.producer import Producer
from jarvis.store.workqueue import WorkQueue

__all__ = ["ApiContext", "create_app"]

log = logging.getLogger(__name__)

Rows = Callable[[], list[dict[str, Any]]]


@dataclass(frozen=True)
class ApiContext:
    """What the HTTP interface needs from its member."""

    work: WorkQueue
    producer: Producer
    readiness: Callable[[], ReadyOut]
    partitions: Rows
    members: Rows


_STATUS: list[tuple[type[JarvisError], int]] = [
    (UnknownAssociateError, 404),
    (NotClaimedError, 409),
    (ValidationError, 400),
    (ServerError, 503),
    (StoreError, 503),
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 404, 409, 422, 503)
}


def _error(status: int, message: str, detail: Any = None) -> JSONResponse:
    return JSONResponse(
        status_code=status, content=ErrorOut(error=message, detail=detail).model_dump()
    )


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="Jarvis",
        version=__version__,
        description="Dispatching engine: store work dispenser, events, ownership views.",
    )

    @app.exception_handler(JarvisError)
    async def jarvis_error(request: Request, exc: JarvisError) -> JSONResponse:
        for kind, status in _STATUS:
            if isinstance(exc, kind):
                return _error(status, str(exc))
        log.error("unexpected %s on %s: %s", type(exc).__name__, request.url.path, exc)
        return _error(503, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return _error(422, "invalid request", detail)

    # --- health ----------------------------------------------------------------------

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=ReadyOut, responses={503: {}})
    def readyz(response: Response) -> ReadyOut:
        """Ready: connected to ZooKeeper and Redis and not draining."""
        state = context.readiness()
        if not state.ready:
            response.status_code = 503
        return state

    @app.get("/metrics", tags=["health"], response_class=Response)
    def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    # --- store work ------------------------------------------------------------------

    @app.post("/v1/work", tags=["work"], status_code=201, responses=_ERRORS)
    def submit_work(item: WorkItem, response: Response) -> EnqueueOut:
        """Queue a work item in its store (idempotent: a known id is not queued twice)."""
        queued = context.work.enqueue(item)
        if not queued:
            response.status_code = 409
        return EnqueueOut(item=item.id, queued=queued)

    @app.put("/v1/associates/{associate_id}", tags=["work"], responses=_ERRORS)
    def register_associate(associate_id: str, associate: Associate) -> Associate:
        """Register (or update) an associate so they can ask for work."""
        if associate.id != associate_id:
            raise ValidationError(
                f"associate id in path ({associate_id!r}) and body ({associate.id!r}) differ"
            )
        context.work.register_associate(associate)
        return associate

    @app.post(
        "/v1/associates/{associate_id}/get-work",
        tags=["work"],
        responses={**_ERRORS, 204: {"description": "no work this associate may take"}},
    )
    def get_work(associate_id: str) -> ClaimOut | Response:
        """Claim the highest-priority item this associate may take (204 if none)."""
        started = time.perf_counter()
        claim = context.work.get_work(associate_id)
        metrics.GET_WORK_SECONDS.labels("http").observe(time.perf_counter() - started)
        if claim is None:
            return Response(status_code=204)
        return ClaimOut(
            item=claim.item,
            associate=claim.associate,
            store=claim.store,
            token=claim.token,
            claimed_at=claim.claimed_at,
            expires_at=claim.expires_at,
        )

    @app.post("/v1/stores/{store}/work/{item_id}/complete", tags=["work"], responses=_ERRORS)
    def complete(store: str, item_id: str, holder: HolderIn) -> dict[str, str]:
        """Mark a claimed item done (409 unless this associate holds the claim)."""
        context.work.complete(_store(store), item_id, holder.associate, holder.token)
        return {"item": item_id, "status": "done"}

    @app.post("/v1/stores/{store}/work/{item_id}/release", tags=["work"], responses=_ERRORS)
    def release(store: str, item_id: str, holder: HolderIn) -> dict[str, str]:
        """Give a claimed item back to its queue."""
        context.work.release(_store(store), item_id, holder.associate, holder.token)
        return {"item": item_id, "status": "queued"}

    @app.post("/v1/stores/{store}/work/{item_id}/heartbeat", tags=["work"], responses=_ERRORS)
    def heartbeat(store: str, item_id: str, holder: HolderIn) -> HeartbeatOut:
        """Extend a claim's lease."""
        expires = context.work.heartbeat(_store(store), item_id, holder.associate, holder.token)
        return HeartbeatOut(expires_at=expires)

    @app.get("/v1/stores/{store}/queue", tags=["work"], responses=_ERRORS)
    def queue(store: str, limit: int = Query(100, ge=1, le=1000)) -> QueueOut:
        """A store's queued items, next first, with its counts."""
        store = _store(store)
        items = [
            {"item": q.item.model_dump(mode="json"), "start_by": q.start_by}
            for q in context.work.queue(store, limit)
        ]
        return QueueOut(store=store, counts=context.work.counts(store), items=items)

    # --- events and views ------------------------------------------------------------

    @app.post("/v1/events", tags=["events"], status_code=202, responses=_ERRORS)
    def submit_events(body: EventsIn) -> EventsOut:
        """Submit city or store events; all are validated before any is written."""
        problems, events = [], []
        for i, raw in enumerate(body.events):
            try:
                events.append(validate_event(raw))
            except ValidationError as exc:
                problems.append(f"events[{i}]: {exc}")
        if problems:
            raise ValidationError("nothing submitted; " + "; ".join(problems[:20]))
        context.producer.submit_many(events)
        return EventsOut(accepted=len(events))

    @app.get("/v1/partitions", tags=["cluster"], responses=_ERRORS)
    def partitions() -> list[dict[str, Any]]:
        """Every partition with its owner, zone, epoch and since when."""
        return context.partitions()

    @app.get("/v1/members", tags=["cluster"], responses=_ERRORS)
    def members() -> list[dict[str, Any]]:
        """Every live member with its zone, partition count and draining flag."""
        return context.members()

    return app


def _store(store: str) -> str:
    return check_partition_id(store)
