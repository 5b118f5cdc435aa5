"""Operator controls over placement, kept in one ZooKeeper node: freeze and move requests.

``/jarvis/<cluster>/placement`` holds a :class:`~jarvis.election.nodes.PlacementNode`.
Every change is a read-modify-write guarded by the node's data version (a concurrent
change makes the write fail and it is tried again on what is there now), so two
operators, or an operator and a member finishing a move, never overwrite each other.
Writing what is already there is a no-op, so every call is idempotent.

Members watch the node (see :class:`~jarvis.election.snapshot.Snapshot`) and apply it in
:mod:`jarvis.election.placement`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, KazooException, NodeExistsError, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError

from jarvis.election.nodes import MoveRequest, PlacementNode, decode, encode
from jarvis.election.paths import ClusterPaths
from jarvis.errors import ElectionError

__all__ = ["PlacementControls"]

log = logging.getLogger(__name__)

_ATTEMPTS = 20


class PlacementControls:
    """Read and change a cluster's placement node."""

    def __init__(self, client: KazooClient, cluster: str) -> None:
        self._client = client
        self._paths = ClusterPaths(cluster)

    def read(self) -> PlacementNode:
        """The controls now (all defaults when nobody ever set one)."""
        try:
            data, _ = self._client.get(self._paths.placement)
        except NoNodeError:
            return PlacementNode()
        except (KazooException, KazooTimeoutError) as exc:
            raise ElectionError(f"cannot read the placement controls: {exc!r}") from exc
        return decode(PlacementNode, data, self._paths.placement)

    def freeze(self, reason: str, at: float) -> PlacementNode:
        """Enter maintenance mode (a second freeze keeps the first one's time and reason)."""

        def change(node: PlacementNode) -> PlacementNode:
            if node.frozen:
                return node
            return node.model_copy(update={"frozen": True, "frozen_at": at, "reason": reason})

        return self.update(change)

    def unfreeze(self) -> PlacementNode:
        """Leave maintenance mode (a no-op when not frozen)."""
        return self.update(
            lambda node: node.model_copy(update={"frozen": False, "frozen_at": None, "reason": ""})
        )

    def request_move(self, partition_id: str, request: MoveRequest) -> PlacementNode:
        """Ask for ``partition_id`` to move (replacing an earlier request for it)."""
        return self.update(
            lambda node: node.model_copy(update={"moves": {**node.moves, partition_id: request}})
        )

    def finish_move(self, partition_id: str, request: MoveRequest) -> PlacementNode:
        """Remove the move request of ``partition_id`` if it is still ``request``."""

        def change(node: PlacementNode) -> PlacementNode:
            if node.moves.get(partition_id) != request:
                return node
            moves = {p: r for p, r in node.moves.items() if p != partition_id}
            return node.model_copy(update={"moves": moves})

        return self.update(change)

    def update(self, change: Callable[[PlacementNode], PlacementNode]) -> PlacementNode:
        """Apply ``change`` to the node, guarded by its version; the node as written."""
        path = self._paths.placement
        try:
            for _ in range(_ATTEMPTS):
                try:
                    data, stat = self._client.get(path)
                except NoNodeError:
                    new = change(PlacementNode())
                    if new == PlacementNode():
                        return new
                    try:
                        self._client.create(path, encode(new), makepath=True)
                    except NodeExistsError:
                        continue
                    return new
                old = decode(PlacementNode, data, path)
                new = change(old)
                if new == old:
                    return old
                try:
                    self._client.set(path, encode(new), version=stat.version)
                except (BadVersionError, NoNodeError):
                    continue
                return new
        except (KazooException, KazooTimeoutError) as exc:
            raise ElectionError(f"cannot change the placement controls: {exc!r}") from exc
        raise ElectionError(f"the placement controls kept changing; gave up after {_ATTEMPTS}")
