"""Answers of the hot path, encoded once, straight to bytes.

A get-work answer is the claim's item, serialized by its own pydantic serializer (in
Rust, no validation: the item was validated when it was read from Redis), spliced
with the claim's fields encoded by ``orjson``. The body is the same JSON as
:class:`jarvis.api.schemas.ClaimOut` (a test pins it), without building that model,
validating it again and encoding it through FastAPI's generic path.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response

from jarvis.models.work import WorkItem
from jarvis.store.work.queue import Claim

__all__ = ["JSON", "claim_json", "claim_response"]

JSON = "application/json"

_item_json = WorkItem.__pydantic_serializer__.to_json


def claim_json(claim: Claim) -> bytes:
    """The body of a get-work answer (``ClaimOut``'s JSON)."""
    rest = orjson.dumps(
        {
            "associate": claim.associate,
            "store": claim.store,
            "token": claim.token,
            "claimed_at": claim.claimed_at,
            "expires_at": claim.expires_at,
            "start_by": claim.start_by,
        }
    )
    return b'{"item":' + _item_json(claim.item) + b"," + rest[1:]


def claim_response(claim: Claim) -> Response:
    return Response(content=claim_json(claim), media_type=JSON)
