"""The JSON stored in each ZooKeeper node, validated by pydantic on the way in and out.

Nodes never hold pickles. A node that does not parse raises
:class:`~jarvis.errors.ElectionError` naming its path.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jarvis.errors import ElectionError

__all__ = [
    "DrainRequest",
    "MemberNode",
    "MoveRequest",
    "OwnerNode",
    "PartitionKind",
    "PartitionNode",
    "PlacementNode",
    "decode",
    "encode",
]

PartitionKind = Literal["city", "store"]


class _Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class MemberNode(_Node):
    """``/members/<member>``: one running member."""

    zone: str
    host: str
    pid: int
    version: str
    draining: bool = False
    #: The most partitions this member takes (None: no limit).
    max_partitions: int | None = None
    #: Partitions this member recently gave up on request (``release``) -> the epoch it
    #: gave up; the others plan them for someone else.
    handoffs: dict[str, int] = Field(default_factory=dict)
    #: Measured weights of the partitions this member runs, those above 1
    #: (:mod:`jarvis.election.measured`).
    loads: dict[str, float] = Field(default_factory=dict)


class PartitionNode(_Node):
    """``/partitions/<id>``: a partition's kind and configuration."""

    kind: PartitionKind
    config: dict[str, Any] = Field(default_factory=dict)


class OwnerNode(_Node):
    """``/partitions/<id>/owner``: the lease. Its ``czxid`` is the ownership's epoch."""

    member: str
    zone: str
    acquired_at: float  # unix seconds


class DrainRequest(_Node):
    """``/drain/<member>``: asks the member whose session is ``session`` to drain."""

    session: int
    requested_at: float  # unix seconds


class MoveRequest(_Node):
    """One operator move (``jarvis move``): the partition should go to ``member``, or to
    a member of ``zone`` (exactly one of the two is set)."""

    member: str | None = None
    zone: str | None = None
    requested_at: float  # unix seconds


class PlacementNode(_Node):
    """``/placement``: the operator's controls over placement, cluster-wide.

    ``frozen``: maintenance mode, no voluntary moves (balance, pins) while set; crash
    failover and drains still happen. ``moves``: partition -> where an operator asked it
    to go; the member that ends up owning it there removes the request.
    """

    frozen: bool = False
    frozen_at: float | None = None  # unix seconds
    reason: str = ""
    moves: dict[str, MoveRequest] = Field(default_factory=dict)


N = TypeVar("N", bound=_Node)


def encode(node: _Node) -> bytes:
    return node.model_dump_json().encode()


def decode(model: type[N], data: bytes, path: str) -> N:
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise ElectionError(f"malformed {model.__name__} at {path}: {exc}") from exc
