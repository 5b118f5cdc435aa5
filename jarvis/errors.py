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
    │   ├── NotClaimedError      the item is not claimed by this associate (or the claim lapsed)
    │   ├── DuplicateItemError   a work item id is already queued, claimed or recently done
    │   └── NotFoundError        no such work item (queued, claimed or dead) in the store
    ├── CourierError             a courier's request about its orders cannot be served (4xx)
    │   ├── UnknownCourierError  the courier never came online in that city
    │   └── NotOfferedError      the order is not offered (or assigned) to that courier
    ├── ElectionError            ZooKeeper ownership failed (wraps kazoo errors)
    └── StoreError               Redis state failed (wraps redis-py errors)
        ├── FencedError          a write carried an epoch lower than one Redis has seen
        └── NotReplicatedError   a write's replicas did not confirm it in time: outcome unknown

Every class carries ``code``, a stable machine-readable name that the HTTP interface
sends beside the message (``{"code": ..., "error": ...}``); an instance may narrow it
(a :class:`NotClaimedError` says *why* the item is not the caller's: ``not_claimed``,
``not_your_claim``, ``claim_replaced``, ``claim_lapsed`` or ``item_cancelled``).

Errors from kazoo, redis-py and scipy are wrapped where they cross into Jarvis with
``raise ... from``, so callers catch ours and still see the cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "BadInputError",
    "ConfigError",
    "CourierError",
    "DispatchError",
    "DuplicateIdError",
    "DuplicateItemError",
    "ElectionError",
    "FencedError",
    "InvalidEstimateError",
    "JarvisError",
    "NotClaimedError",
    "NotFoundError",
    "NotOfferedError",
    "NotReplicatedError",
    "PayloadTooLargeError",
    "ServerError",
    "ServerMissingError",
    "StoreError",
    "UnknownAssociateError",
    "UnknownCourierError",
    "WorkError",
]


class JarvisError(Exception):
    """Root of every error Jarvis raises on purpose.

    ``code`` is its stable machine-readable name (a class default; ``code=`` narrows it
    for one instance).
    """

    code: str = "error"

    def __init__(self, *args: object, code: str | None = None) -> None:
        super().__init__(*args)
        if code is not None:
            self.code = code


class ConfigError(JarvisError):
    """A configuration setting, rules file or command-line flag is invalid."""

    code = "config_error"


class BadInputError(JarvisError):
    """An input from outside (event, request body, CLI argument) is malformed."""

    code = "bad_input"


class PayloadTooLargeError(BadInputError):
    """A request carries more than its limit (bytes of body, events in a batch)."""

    code = "payload_too_large"


class ServerError(JarvisError):
    """A ZooKeeper or Redis server could not be started or reached."""

    code = "unavailable"


class ServerMissingError(ServerError):
    """A server binary is not installed on this machine."""

    code = "server_missing"


class DispatchError(JarvisError):
    """The dispatch core was given input it cannot decide on."""

    code = "bad_input"


class DuplicateIdError(DispatchError):
    """Two tasks, or two workers, share an id."""

    code = "duplicate_id"


class InvalidEstimateError(DispatchError):
    """A time estimate is NaN, infinite or negative."""

    code = "invalid_estimate"


class WorkError(JarvisError):
    """A store work request (get-work, complete, release, heartbeat) cannot be served."""

    code = "work_error"


class UnknownAssociateError(WorkError):
    """Get-work was asked for an associate that was never registered."""

    code = "unknown_associate"


class NotClaimedError(WorkError):
    """The item is not claimed by this associate: never claimed, someone else's, or lapsed."""

    code = "not_claimed"


class DuplicateItemError(WorkError):
    """A submitted work item's id is already queued, claimed, dead or recently done."""

    code = "duplicate_item"


class NotFoundError(WorkError):
    """No such work item in the store (not queued, not claimed, not in the dead set)."""

    code = "not_found"


class CourierError(JarvisError):
    """A courier's request about its orders (list, accept, decline) cannot be served."""

    code = "courier_error"


class UnknownCourierError(CourierError):
    """The courier never came online in that city."""

    code = "unknown_courier"


class NotOfferedError(CourierError):
    """The order is not offered to that courier (accept), or neither offered nor assigned
    to it and not picked up (decline)."""

    code = "not_offered"


class ElectionError(JarvisError):
    """Partition ownership in ZooKeeper failed."""

    code = "unavailable"


class StoreError(JarvisError):
    """Reading or writing state in Redis failed."""

    code = "unavailable"


class FencedError(StoreError):
    """Redis refused a write whose epoch is lower than the highest it has seen."""

    code = "fenced"

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
    it; retrying is safe (every write is idempotent). ``replies`` are the commands'
    replies from the primary (empty when unknown), for a caller that can tell from them
    that nothing it needs confirmed was written.
    """

    code = "not_replicated"

    def __init__(self, key: str, wanted: int, confirmed: int, replies: Sequence[Any] = ()) -> None:
        super().__init__(
            f"write to {key!r} confirmed by {confirmed} of {wanted} required replica(s) "
            "in time: its outcome is unknown, retry"
        )
        self.key = key
        self.wanted = wanted
        self.confirmed = confirmed
        self.replies = tuple(replies)
