"""What a member is told when it is built: where, who, and how fast (one frozen value).

Only ``hosts``, ``cluster``, ``member_id`` and ``zone`` are required; every timer has a
default, and the derived timers (step-down, heartbeat, ZooKeeper call timeout, handoff
cooldown, orphan grace) are read from the properties, so they are computed in one place.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from jarvis import __version__
from jarvis.election.paths import check_name
from jarvis.errors import ConfigError

__all__ = ["STEP_DOWN_FRACTION", "MemberOptions"]

#: Step down after this fraction of the session timeout without hearing from ZooKeeper.
STEP_DOWN_FRACTION = 2.0 / 3.0


@dataclass(frozen=True, slots=True)
class MemberOptions:
    """A member's identity, its ZooKeeper connection and its timers.

    ``session_timeout`` (s); ``rebalance_interval`` (s) and ``max_moves_per_interval``
    bound how fast an over-quota member gives partitions away; ``settle_delay`` (s) lets
    members started together see each other before the first acquisition (it restarts
    while new members keep appearing, up to five times over); ``orphan_grace`` (s,
    default the session timeout) after which any member takes a partition that its
    planned taker left free (a taker that is stuck but not yet expired);
    ``handoff_cooldown`` (s, default twice the rebalance interval) during which a
    partition handed off is not planned back to the member that released it; a
    partition the listener refused (its engine could not be built) is not taken back
    for the cooldown, doubled at each refusal in a row, at most 32 times over.
    ``max_partitions`` (None: no limit) is the most partitions the member takes; it is
    published in its member node, so every member plans with it, and what no member has
    room for stays unowned.
    ``weight_unit`` (open tasks per unit of weight), ``weight_half_life`` (s) and
    ``weight_publish_interval`` (s) shape measured weights, for a member given a
    ``loads`` sampler (see :mod:`jarvis.election.measured`).
    ``auth_data`` and ``default_acl`` go to kazoo (see :class:`~jarvis.election.ZkAuth`):
    every node the member creates carries the ACL. ``host`` and ``pid`` default to this
    process's.
    """

    hosts: str
    cluster: str
    member_id: str
    zone: str
    version: str = __version__
    session_timeout: float = 10.0
    max_moves_per_interval: int = 10
    rebalance_interval: float = 1.0
    settle_delay: float = 0.2
    orphan_grace: float | None = None
    handoff_cooldown: float | None = None
    max_partitions: int | None = None
    weight_unit: float = 100.0
    weight_half_life: float = 60.0
    weight_publish_interval: float = 10.0
    auth_data: tuple[tuple[str, str], ...] | None = None
    default_acl: tuple[Any, ...] | None = None
    host: str | None = None
    pid: int | None = None

    def __post_init__(self) -> None:
        check_name(self.member_id, "member id")
        check_name(self.zone, "zone")
        if self.session_timeout <= 0 or self.settle_delay < 0:
            raise ConfigError("session_timeout must be > 0 and settle_delay >= 0")
        if self.rebalance_interval <= 0 or self.max_moves_per_interval < 1:
            raise ConfigError("rebalance_interval must be > 0 and max_moves_per_interval >= 1")
        if self.max_partitions is not None and self.max_partitions < 1:
            raise ConfigError(f"max_partitions must be >= 1, not {self.max_partitions}")
        if min(self.weight_unit, self.weight_half_life) <= 0 or self.weight_publish_interval < 0:
            raise ConfigError(
                "weight_unit and weight_half_life must be > 0, weight_publish_interval >= 0"
            )

    @property
    def step_down_after(self) -> float:
        """Seconds without an answer from ZooKeeper after which the member steps down."""
        return self.session_timeout * STEP_DOWN_FRACTION

    @property
    def heartbeat_interval(self) -> float:
        return self.session_timeout / 6.0

    @property
    def op_timeout(self) -> float:
        """A ZooKeeper call never holds the worker longer than this, so the step-down
        comes at most 2/3 + 1/6 of the session timeout after the last answer."""
        return max(0.2, self.session_timeout / 6.0)

    @property
    def cooldown(self) -> float:
        if self.handoff_cooldown is None:
            return 2 * self.rebalance_interval
        return self.handoff_cooldown

    @property
    def grace(self) -> float:
        return self.session_timeout if self.orphan_grace is None else self.orphan_grace

    @property
    def host_name(self) -> str:
        return self.host or socket.gethostname()

    @property
    def process_id(self) -> int:
        return os.getpid() if self.pid is None else self.pid
