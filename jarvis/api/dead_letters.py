"""A partition's dead letters over HTTP: list them with their reasons, and re-submit a
corrected event for one (:mod:`jarvis.store.dead_letters`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from jarvis.api.errors import ERROR_RESPONSES
from jarvis.store.dead_letters import DeadLetters
from jarvis.store.keys import check_partition_id

if TYPE_CHECKING:
    from jarvis.api.app import ApiContext

__all__ = ["DeadLetterOut", "DeadLettersOut", "ResubmitIn", "ResubmitOut", "dead_letters_router"]


class ResubmissionOut(BaseModel):
    stream_id: str
    event_id: str
    at: float


class DeadLetterOut(BaseModel):
    """One dead letter: its id in the dead-letter stream, the stream id the event had in
    the incoming stream, why it was not applied, the raw event, the writer's epoch, and
    its re-submission if any."""

    id: str
    partition: str
    stream_id: str
    reason: str
    event: str
    epoch: str
    resubmitted: ResubmissionOut | None


class DeadLettersOut(BaseModel):
    partition: str
    items: list[DeadLetterOut]


class ResubmitIn(BaseModel):
    """The corrected event (validated like any event; it must be for this partition)."""

    model_config = ConfigDict(extra="forbid")

    event: dict[str, Any]


class ResubmitOut(BaseModel):
    """``resubmitted`` now, or ``already_resubmitted`` (nothing written): the entry of the
    incoming stream the dead letter became."""

    status: str
    stream_id: str
    event_id: str


def dead_letters_router(context: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["events"], responses=ERROR_RESPONSES)
    work = context.work
    letters = DeadLetters(work.redis, work.namespace, scripts=work.scripts, clock=work.clock)

    @router.get("/partitions/{partition}/dead-letters")
    def list_dead_letters(
        partition: str,
        limit: int = Query(100, ge=1, le=10000, description="at most this many, oldest first"),
        after: str = Query("", description="only those after this dead-letter id"),
    ) -> DeadLettersOut:
        """The partition's dead letters, oldest first, with their reasons."""
        check_partition_id(partition)
        found = letters.list(partition, limit, after)
        return DeadLettersOut(
            partition=partition, items=[DeadLetterOut.model_validate(d.as_dict()) for d in found]
        )

    @router.post("/partitions/{partition}/dead-letters/{dead_id}/resubmit")
    def resubmit_dead_letter(partition: str, dead_id: str, body: ResubmitIn) -> ResubmitOut:
        """Re-submit a corrected event for a dead letter into the incoming stream (once:
        again answers ``already_resubmitted``). 400 ``bad_input`` for an invalid event or
        one for another partition, 404 ``not_found`` for an unknown dead letter."""
        check_partition_id(partition)
        now, done = letters.resubmit(partition, dead_id, body.event)
        return ResubmitOut(
            status="resubmitted" if now else "already_resubmitted",
            stream_id=done.stream_id,
            event_id=done.event_id,
        )

    return router
