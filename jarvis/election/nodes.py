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
    "OwnerNode",
    "PartitionKind",
    "PartitionNode",
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
    #: Partitions this member recently gave up on request (``release``) -> the epoch it
    #: gave up; the others plan them for someone else.
    handoffs: dict[str, int] = Field(default_factory=dict)


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


N = TypeVar("N", bound=_Node)


def encode(node: _Node) -> bytes:
    return node.model_dump_json().encode()


def decode(model: type[N], data: bytes, path: str) -> N:
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise ElectionError(f"malformed {model.__name__} at {path}: {exc}") from exc
