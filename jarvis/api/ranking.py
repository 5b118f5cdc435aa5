"""``GET /v1/stores/ranking``: which stores need help most, with the parts of each score
(:mod:`jarvis.store.work.ranking` has the formula)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Query
from pydantic import BaseModel

from jarvis.api.errors import ERROR_RESPONSES
from jarvis.store.work.ranking import FORMULA, store_needs

if TYPE_CHECKING:
    from jarvis.api.app import ApiContext

__all__ = ["RankingOut", "StoreNeedOut", "ranking_router"]


class StoreNeedOut(BaseModel):
    """One store: its score and the parts it is made of."""

    store: str
    score: float
    work: int
    queued: int
    remotable: int
    overdue_s: float
    associates: int
    completions: int
    completions_per_min: float


class RankingOut(BaseModel):
    """The neediest stores first, with the formula and weights that ranked them."""

    formula: str
    weights: dict[str, float]
    stores: list[StoreNeedOut]


def ranking_router(context: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["work"], responses=ERROR_RESPONSES)

    @router.get("/stores/ranking")
    def ranking(
        limit: int = Query(100, ge=1, le=10000, description="list at most this many stores"),
    ) -> RankingOut:
        """Which stores need help most: queued work (weighted by urgency, so priority
        and age count), minus the associates present and the recent throughput."""
        weights = context.ranking
        rows = context.partitions() if context.partitions is not None else []  # jarvis api: none
        known = [row["partition"] for row in rows if row.get("kind") == "store"]
        needs = store_needs(context.work, weights, limit, also=known)
        return RankingOut(
            formula=FORMULA,
            weights=weights.as_dict(),
            stores=[StoreNeedOut.model_validate(n.as_dict()) for n in needs],
        )

    return router
