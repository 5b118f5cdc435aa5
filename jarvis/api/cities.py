"""What a courier app needs without Redis: its orders, and accept or decline.

- ``GET /v1/cities/{city}/couriers/{courier}/assignments``: the orders the courier holds,
  each ``offered`` (acceptance mode, with ``expires_at``), ``assigned`` or ``picked_up``,
  in the order its planned route reaches them, and ``stops``: that route, the stop
  order the city's decision planned and committed with the assignments (each order's
  pickup, unless picked up, and drop-off; :mod:`jarvis.models.stops`). With ``?wait=S``
  the answer waits (long poll, up to ``MAX_WAIT_S``) until the courier holds an order
  whose id is not in ``known`` (the comma-separated ids the app already has); at the
  end of the wait it answers with what there is.
- ``POST .../orders/{order}/accept`` writes ``offer_accepted``; ``POST
  .../orders/{order}/decline`` writes ``order_declined`` (optional ``reason``). Both are
  checked against the city's state first (409 ``not_offered`` when the order is not
  offered, or for a decline neither offered nor assigned, to that courier), then
  written to the city's incoming stream and answered 202: the city's owner applies them
  at its next tick, and may still dead-letter one that raced with another change. A
  retried request with the same ``event_id`` is applied once.

- ``GET /v1/cities/{city}/decisions/stream``: the city's decisions as server-sent events,
  one per out-stream entry (``id`` the entry id, ``event`` its type, ``data`` its JSON:
  assignments, offers, reassignments, tick markers, deliveries, ...), from ``after``
  (an entry id; ``-`` from the start of the kept stream; default: only what comes
  next). A reconnecting client's ``Last-Event-ID`` header resumes after the last event
  it saw. An idle stream sends a comment every ``KEEPALIVE_S`` so proxies keep it open.

Any member serves these: they read Redis and write events, and need no ownership.
The waiting between two reads is an ``asyncio`` sleep, so a waiting request holds no
thread.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from jarvis.api.errors import ERROR_RESPONSES
from jarvis.api.schemas import MAX_WAIT_S
from jarvis.errors import BadInputError, NotOfferedError, UnknownCourierError
from jarvis.models.city import Order
from jarvis.models.events import EVENT_ID_PATTERN, validate_event
from jarvis.store import (
    CityStore,
    CourierOrder,
    PartitionKeys,
    check_partition_id,
    read_decisions,
    text,
)

if TYPE_CHECKING:
    from jarvis.api.app import ApiContext

__all__ = ["cities_router"]

#: How often a waiting request reads the courier's orders (or decisions) again, seconds.
POLL_S = 0.1
#: An idle decision stream sends a comment this often, seconds.
KEEPALIVE_S = 15.0
#: Decisions read per round trip by a decision stream.
STREAM_BATCH = 500
_ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


class CourierOrderOut(BaseModel):
    order: Order
    status: Literal["offered", "assigned", "picked_up"]
    expires_at: float | None = None


class StopOut(BaseModel):
    order_id: str
    action: Literal["pickup", "dropoff"]


class CourierOrdersOut(BaseModel):
    city: str
    courier: str
    orders: list[CourierOrderOut]
    #: The planned route: where to go next, in order.
    stops: list[StopOut] = Field(default_factory=list)


class AnswerIn(BaseModel):
    """An accept or a decline; ``event_id`` makes a retried request idempotent."""

    model_config = ConfigDict(extra="forbid")

    event_id: str | None = Field(default=None, pattern=EVENT_ID_PATTERN)
    reason: str | None = Field(default=None, max_length=200)


class AnswerOut(BaseModel):
    event_id: str
    type: Literal["offer_accepted", "order_declined"]


def _out(city: str, courier: str, held: list[CourierOrder]) -> CourierOrdersOut:
    orders = [
        CourierOrderOut.model_validate(
            {"order": h.order, "status": h.status, "expires_at": h.expires_at}
        )
        for h in held
    ]
    places = [(h.pickup_stop, h.order.id, "pickup") for h in held if h.pickup_stop is not None]
    places += [(h.dropoff_stop, h.order.id, "dropoff") for h in held]
    stops = [
        StopOut.model_validate({"order_id": oid, "action": action})
        for _, oid, action in sorted(places)
    ]
    return CourierOrdersOut(city=city, courier=courier, orders=orders, stops=stops)


def cities_router(context: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/v1/cities", tags=["couriers"], responses=ERROR_RESPONSES)

    def _store(city: str) -> CityStore:
        producer = context.producer
        return CityStore(producer.redis, check_partition_id(city), producer.namespace)

    def _held(store: CityStore, courier_id: str) -> list[CourierOrder]:
        held = store.courier_orders(courier_id)
        if held is None:
            raise UnknownCourierError(
                f"courier {courier_id!r} never came online in city {store.partition!r}"
            )
        return held

    @router.get("/{city}/couriers/{courier_id}/assignments")
    async def assignments(
        request: Request,
        city: str,
        courier_id: str,
        wait: float = Query(
            0.0,
            ge=0.0,
            le=MAX_WAIT_S,
            description="seconds to wait until the courier holds an order not in `known`",
        ),
        known: str = Query("", description="comma-separated ids of orders the app has"),
    ) -> CourierOrdersOut:
        """The orders this courier holds (offered, assigned or picked up)."""
        store = _store(city)
        held = await run_in_threadpool(_held, store, courier_id)
        have = {k for k in known.split(",") if k}
        deadline = time.monotonic() + wait
        while not any(h.order.id not in have for h in held):
            left = deadline - time.monotonic()
            if left <= 0 or await request.is_disconnected():
                break
            await asyncio.sleep(min(POLL_S, left))
            held = await run_in_threadpool(_held, store, courier_id)
        return _out(store.partition, courier_id, held)

    def _answer(
        city: str,
        courier_id: str,
        order_id: str,
        body: AnswerIn | None,
        kind: Literal["offer_accepted", "order_declined"],
    ) -> AnswerOut:
        store = _store(city)
        status = {h.order.id: h.status for h in _held(store, courier_id)}.get(order_id)
        allowed = ("offered",) if kind == "offer_accepted" else ("offered", "assigned")
        if status not in allowed:
            what = "offered" if kind == "offer_accepted" else "offered or assigned"
            raise NotOfferedError(
                f"order {order_id!r} is not {what} to courier {courier_id!r}"
                + (f" (it is {status})" if status else "")
            )
        body = body or AnswerIn()
        event_id = body.event_id or f"http-{uuid.uuid4().hex}"
        fields: dict[str, object] = {"order_id": order_id, "courier_id": courier_id}
        if kind == "order_declined" and body.reason:
            fields["reason"] = body.reason
        event = validate_event(
            {"id": event_id, "partition": store.partition, "at": time.time(), "type": kind} | fields
        )
        context.producer.submit(event)
        return AnswerOut(event_id=event_id, type=kind)

    @router.post("/{city}/couriers/{courier_id}/orders/{order_id}/accept", status_code=202)
    def accept(
        city: str, courier_id: str, order_id: str, body: AnswerIn | None = None
    ) -> AnswerOut:
        """Accept an order offered to this courier (acceptance mode)."""
        return _answer(city, courier_id, order_id, body, "offer_accepted")

    @router.post("/{city}/couriers/{courier_id}/orders/{order_id}/decline", status_code=202)
    def decline(
        city: str, courier_id: str, order_id: str, body: AnswerIn | None = None
    ) -> AnswerOut:
        """Give back an order offered or assigned to this courier and not picked up."""
        return _answer(city, courier_id, order_id, body, "order_declined")

    @router.get("/{city}/decisions/stream", response_class=StreamingResponse)
    async def decisions_stream(
        request: Request,
        city: str,
        after: str = Query("$", description="entry id to start after; '-' from the start"),
        last_event_id: str | None = Header(None),
    ) -> StreamingResponse:
        """The city's decisions as server-sent events, from ``after`` on."""
        partition = check_partition_id(city)
        producer = context.producer
        start = last_event_id or after
        if start == "$":
            newest = await run_in_threadpool(
                producer.redis.xrevrange,
                PartitionKeys(partition, producer.namespace).decisions_out,
                count=1,
            )
            start = text(newest[0][0]) if newest else "0-0"
        elif start != "-" and not _ENTRY_ID.match(start):
            raise BadInputError(f"after must be a stream entry id or '-', got {start!r}")

        async def events() -> AsyncIterator[str]:
            cursor, quiet = start, 0.0
            while not await request.is_disconnected():
                batch = await run_in_threadpool(
                    read_decisions, producer.redis, partition, cursor, STREAM_BATCH,
                    producer.namespace,
                )  # fmt: skip
                for d in batch:
                    yield f"id: {d.id}\nevent: {d.type}\ndata: {json.dumps(d.as_json())}\n\n"
                    cursor = d.id
                if batch:
                    quiet = 0.0
                    continue
                if quiet >= KEEPALIVE_S:
                    yield ": keep-alive\n\n"
                    quiet = 0.0
                await asyncio.sleep(POLL_S)
                quiet += POLL_S

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    return router
