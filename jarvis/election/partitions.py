"""The partition registry: which partitions exist, of which kind, with which config.

Partitions are persistent nodes ``/jarvis/<cluster>/partitions/<id>`` holding
``{"kind": ..., "config": {...}}``. Members watch the registry and take new partitions
at once; removing a partition deletes its owner node too, so its owner stops acting
for it (``on_lost``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, get_args

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError, NoNodeError
from pydantic import ValidationError

from jarvis.election.nodes import PartitionKind, PartitionNode, decode, encode
from jarvis.election.paths import ClusterPaths, check_name
from jarvis.election.placement import pin_of
from jarvis.election.weights import weight_of
from jarvis.errors import BadInputError, ConfigError, ElectionError
from jarvis.models import city_config

__all__ = ["KINDS", "PartitionInfo", "PartitionKind", "PartitionRegistry"]

log = logging.getLogger(__name__)

_REMOVE_ATTEMPTS = 20

KINDS: tuple[str, ...] = get_args(PartitionKind)


@dataclass(frozen=True)
class PartitionInfo:
    """One partition as registered: its id, kind and (read-only) config."""

    id: str
    kind: PartitionKind
    config: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_node(cls, partition_id: str, node: PartitionNode) -> PartitionInfo:
        return cls(partition_id, node.kind, MappingProxyType(dict(node.config)))


def _node(kind: object, config: object) -> PartitionNode:
    if kind not in KINDS:
        raise BadInputError(f"invalid partition kind {kind!r}: use one of {', '.join(KINDS)}")
    if not isinstance(config, Mapping):
        raise BadInputError(f"partition config must be a JSON object, not {config!r}")
    pin_of(config)  # a malformed pin or weight is refused here, not ignored later
    weight_of(config)
    if kind == "city":
        try:
            city_config(config)  # so are a city's solver settings
        except ConfigError as exc:
            raise BadInputError(f"invalid partition config: {exc}") from exc
    try:
        return PartitionNode(kind=kind, config=dict(config))
    except ValidationError as exc:
        raise BadInputError(f"invalid partition config: {exc}") from exc


class PartitionRegistry:
    """Add, remove and list the partitions of a cluster."""

    def __init__(self, client: KazooClient, cluster: str) -> None:
        self._client = client
        self._paths = ClusterPaths(cluster)

    def add(
        self, partition_id: str, kind: PartitionKind, config: Mapping[str, Any] | None = None
    ) -> PartitionInfo:
        """Register a partition. Adding the same partition again with the same kind and
        config does nothing; with a different one it raises BadInputError."""
        check_name(partition_id, "partition id")
        node = _node(kind, {} if config is None else config)
        path = self._paths.partition(partition_id)
        try:
            self._client.create(path, encode(node), makepath=True)
        except NodeExistsError:
            existing = self.get(partition_id)
            if existing is None or existing != PartitionInfo.from_node(partition_id, node):
                raise BadInputError(
                    f"partition {partition_id!r} already exists with another kind or config"
                ) from None
            return existing
        except KazooException as exc:
            raise ElectionError(f"cannot add partition {partition_id!r}: {exc!r}") from exc
        log.info("partition %s added (%s)", partition_id, node.kind)
        return PartitionInfo.from_node(partition_id, node)

    def remove(self, partition_id: str) -> None:
        """Unregister a partition (its owner, if any, loses it). Unknown ids raise
        BadInputError."""
        check_name(partition_id, "partition id")
        path = self._paths.partition(partition_id)
        try:
            for _ in range(_REMOVE_ATTEMPTS):
                # The owner node and the partition go in one transaction; a member that
                # takes the partition meanwhile makes it fail, and we try again.
                try:
                    children = self._client.get_children(path)
                except NoNodeError:
                    raise BadInputError(f"no such partition {partition_id!r}") from None
                transaction = self._client.transaction()
                for child in children:
                    transaction.delete(f"{path}/{child}")
                transaction.delete(path)
                results = transaction.commit()
                if not any(isinstance(r, Exception) for r in results):
                    break
            else:
                raise ElectionError(f"partition {partition_id!r} kept changing; not removed")
        except KazooException as exc:
            raise ElectionError(f"cannot remove partition {partition_id!r}: {exc!r}") from exc
        log.info("partition %s removed", partition_id)

    def get(self, partition_id: str) -> PartitionInfo | None:
        """The partition, or None if it is not registered."""
        check_name(partition_id, "partition id")
        path = self._paths.partition(partition_id)
        try:
            data, _ = self._client.get(path)
        except NoNodeError:
            return None
        except KazooException as exc:
            raise ElectionError(f"cannot read partition {partition_id!r}: {exc!r}") from exc
        return PartitionInfo.from_node(partition_id, decode(PartitionNode, data, path))

    def list(self) -> list[PartitionInfo]:
        """Every registered partition, sorted by id (read in one pipelined round)."""
        try:
            ids = sorted(self._client.get_children(self._paths.partitions))
        except NoNodeError:
            return []
        except KazooException as exc:
            raise ElectionError(f"cannot list partitions: {exc!r}") from exc
        pending = [(i, self._client.get_async(self._paths.partition(i))) for i in ids]
        found: list[PartitionInfo] = []
        for partition_id, result in pending:
            try:
                data, _ = result.get()
            except NoNodeError:
                continue
            except KazooException as exc:
                raise ElectionError(f"cannot read partition {partition_id!r}: {exc!r}") from exc
            path = self._paths.partition(partition_id)
            found.append(PartitionInfo.from_node(partition_id, decode(PartitionNode, data, path)))
        return found
