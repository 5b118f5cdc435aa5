"""Every error Jarvis raises on purpose derives from :class:`JarvisError`.

The tree::

    JarvisError
    ├── ConfigError              a setting, rules file or flag is invalid (names the setting)
    ├── BadInputError            an input (event, request, CLI argument) is malformed
    │   └── PayloadTooLargeError a request carries more than its limit (HTTP 413)
    ├── ServerError              a ZooKeeper or Redis server could not be started or reached
    │   └── ServerMissingError   a server binary is not installed (run `make setup`)
    ├── DispatchError            the dispatch core was given input it cannot decide on
    │   ├── DuplicateIdError     two tasks or two workers share an id
    │   └── InvalidEstimateError an estimate is NaN, infinite or negative
    ├── WorkError                a store work request cannot be served (HTTP 4xx)
    │   ├── UnknownAssociateError get-work for an associate that was never registered
    │   └── NotClaimedError      the item is not claimed by this associate (or the claim lapsed)
    ├── ElectionError            ZooKeeper ownership failed (wraps kazoo errors)
    └── StoreError               Redis state failed (wraps redis-py errors)
        ├── FencedError          a write carried an epoch lower than one Redis has seen
        └── NotReplicatedError   a write's replicas did not confirm it in time: outcome unknown

Errors from kazoo, redis-py and scipy are wrapped where they cross into Jarvis with
``raise ... from``, so callers catch ours and still see the cause.
"""

from __future__ import annotations

__all__ = [
    "BadInputError",
    "ConfigError",
    "DispatchError",
    "DuplicateIdError",
    "ElectionError",
    "FencedError",
    "InvalidEstimateError",
    "JarvisError",
    "NotClaimedError",
    "NotReplicatedError",
    "PayloadTooLargeError",
    "ServerError",
    "ServerMissingError",
    "StoreError",
    "UnknownAssociateError",
    "WorkError",
]


class JarvisError(Exception):
    """Root of every error Jarvis raises on purpose."""


class ConfigError(JarvisError):
    """A configuration setting, rules file or command-line flag is invalid."""


class BadInputError(JarvisError):
    """An input from outside (event, request body, CLI argument) is malformed."""


class PayloadTooLargeError(BadInputError):
    """A request carries more than its limit (bytes of body, events in a batch)."""


class ServerError(JarvisError):
    """A ZooKeeper or Redis server could not be started or reached."""


class ServerMissingError(ServerError):
    """A server binary is not installed on this machine."""


class DispatchError(JarvisError):
    """The dispatch core was given input it cannot decide on."""


class DuplicateIdError(DispatchError):
    """Two tasks, or two workers, share an id."""


class InvalidEstimateError(DispatchError):
    """A time estimate is NaN, infinite or negative."""


class WorkError(JarvisError):
    """A store work request (get-work, complete, release, heartbeat) cannot be served."""


class UnknownAssociateError(WorkError):
    """Get-work was asked for an associate that was never registered."""


class NotClaimedError(WorkError):
    """The item is not claimed by this associate: never claimed, someone else's, or lapsed."""


class ElectionError(JarvisError):
    """Partition ownership in ZooKeeper failed."""


class StoreError(JarvisError):
    """Reading or writing state in Redis failed."""


class FencedError(StoreError):
    """Redis refused a write whose epoch is lower than the highest it has seen."""

    def __init__(self, partition: str, epoch: int, highest: int) -> None:
        super().__init__(
            f"partition {partition!r}: write with epoch {epoch} refused, "
            f"epoch {highest} has been seen"
        )
        self.partition = partition
        self.epoch = epoch
        self.highest = highest


class NotReplicatedError(StoreError):
    """A write reached its primary but fewer replicas than required confirmed it in time.

    Its outcome is unknown: it may survive, or vanish in a failover. Nobody may act on
    it; retrying is safe (every write is idempotent).
    """

    def __init__(self, key: str, wanted: int, confirmed: int) -> None:
        super().__init__(
            f"write to {key!r} confirmed by {confirmed} of {wanted} required replica(s) "
            "in time: its outcome is unknown, retry"
        )
        self.key = key
        self.wanted = wanted
        self.confirmed = confirmed
