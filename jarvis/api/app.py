"""The HTTP interface of a member (FastAPI): submit work, get work, claims, events, views,
health and metrics.

Every member serves all of it: get-work and the claim calls are each one atomic Redis
script, so they are correct from any member; the owner of a store only matters for
batch mode, which it drives from its tick. Bad input is a 4xx with a reason (see
:mod:`jarvis.api.errors`); the OpenAPI description is served at ``/openapi.json``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST

from jarvis import __version__, metrics
from jarvis.api.cities import cities_router
from jarvis.api.dead_letters import dead_letters_router
from jarvis.api.errors import ERROR_RESPONSES, codes_table, install_error_handlers
from jarvis.api.ranking import ranking_router
from jarvis.api.schemas import (
    MAX_EVENTS_PER_REQUEST,
    EventsIn,
    EventsOut,
    MemberOut,
    PartitionOut,
    ReadyOut,
)
from jarvis.api.security import HttpGuard, HttpPolicy
from jarvis.api.work import work_router
from jarvis.errors import BadInputError, PayloadTooLargeError
from jarvis.models.events import validate_event
from jarvis.store.producer import Producer
from jarvis.store.work.batch import WorkBatch
from jarvis.store.work.queue import WorkQueue
from jarvis.store.work.ranking import RankingWeights

__all__ = ["ApiContext", "create_app"]

log = logging.getLogger(__name__)

Rows = Callable[[], list[dict[str, Any]]]

#: At most this many problems are named when a batch of events is refused.
_MAX_PROBLEMS = 20


@dataclass(frozen=True)
class ApiContext:
    """What the HTTP interface needs from its member.

    ``readiness`` says whether the member may take traffic; ``partitions`` and
    ``members`` return the rows of :class:`jarvis.election.ClusterView` as dicts (None:
    no ZooKeeper, as in ``jarvis api``, and no such routes);
    ``batch`` serves waiting get-work requests of stores in batch mode (None: every
    request is first come, first served); ``ranking`` weighs the store ranking;
    ``inline_get_work``: a get-work without a wait calls Redis on the event loop's thread
    (no thread hop; ``jarvis api`` workers, see :mod:`jarvis.api.waiting`).
    """

    work: WorkQueue
    producer: Producer
    readiness: Callable[[], ReadyOut]
    partitions: Rows | None
    members: Rows | None
    batch: WorkBatch | None = None
    policy: HttpPolicy = field(default_factory=HttpPolicy)
    max_batch: int = MAX_EVENTS_PER_REQUEST
    ranking: RankingWeights = field(default_factory=RankingWeights)
    inline_get_work: bool = False


def create_app(context: ApiContext) -> FastAPI:
    app = FastAPI(
        title="Jarvis",
        version=__version__,
        description="Dispatching engine: store work dispenser, events, ownership views. "
        "Endpoints that change state need `Authorization: Bearer <token>`.\n\n"
        'Every error answer is `{"code", "error", "detail"}`: `code` is stable and '
        "machine-readable (branch on it, not on the words of `error`):\n\n" + codes_table(),
    )
    install_error_handlers(app)
    app.add_middleware(HttpGuard, policy=context.policy)

    # --- health ----------------------------------------------------------------------

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Alive: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"model": ReadyOut}})
    def readyz(response: Response) -> ReadyOut:
        """Ready (200) when connected to ZooKeeper and Redis and not draining, else 503.

        The body also says whether the member runs its ticks late (``overloaded``,
        ``tick_lag_seconds``): an overloaded member stays ready."""
        state = context.readiness()
        if not state.ready:
            response.status_code = 503
        return state

    @app.get("/metrics", tags=["health"], response_class=Response)
    def prometheus() -> Response:
        """Prometheus metrics of this member (of every worker, under ``jarvis api``)."""
        return Response(metrics.page(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(work_router(context))
    app.include_router(ranking_router(context))
    app.include_router(dead_letters_router(context))
    app.include_router(cities_router(context))

    # --- events and views ------------------------------------------------------------

    @app.post("/v1/events", tags=["events"], status_code=202, responses=ERROR_RESPONSES)
    def submit_events(body: EventsIn) -> EventsOut:
        """Submit city or store events; all are validated before any is written."""
        if len(body.events) > context.max_batch:
            raise PayloadTooLargeError(
                f"{len(body.events)} events in one request; at most {context.max_batch}"
            )
        problems, events = [], []
        for i, raw in enumerate(body.events):
            try:
                events.append(validate_event(raw))
            except BadInputError as exc:
                problems.append(f"events[{i}]: {exc}")
        if problems:
            raise BadInputError("nothing submitted; " + "; ".join(problems[:_MAX_PROBLEMS]))
        context.producer.submit_many(events)
        return EventsOut(accepted=len(events))

    if context.partitions is not None:
        rows = context.partitions

        @app.get("/v1/partitions", tags=["cluster"], responses=ERROR_RESPONSES)
        def partitions() -> list[PartitionOut]:
            """Every partition with its owner, zone, epoch and since when."""
            return [PartitionOut.model_validate(row) for row in rows()]

    if context.members is not None:
        member_rows = context.members

        @app.get("/v1/members", tags=["cluster"], responses=ERROR_RESPONSES)
        def members() -> list[MemberOut]:
            """Every live member with its zone, partition count and draining flag."""
            return [MemberOut.model_validate(row) for row in member_rows()]

    return app
