"""Where a store's work lives in Redis (all under the store's hash tag)::

    <ns>:{<store>}:work:items          HASH  item id -> item JSON, while queued or claimed
    <ns>:{<store>}:work:q|<role>|<licence>|<b|r>
                                       ZSET  one queue per eligibility class, by start-by
    <ns>:{<store>}:work:heads          ZSET  every non-empty queue key -> its first item's
                                             score (so get-work reads one key, not each)
    <ns>:{<store>}:work:claims         HASH  item id -> claim record (JSON, see work_lib.lua)
    <ns>:{<store>}:work:leases         ZSET  item id -> lease expiry (seconds)
    <ns>:{<store>}:work:done           ZSET  item id -> completion time (kept for a while, so
                                             a retried submission is recognised)
    <ns>:{<store>}:work:attempts       HASH  item id -> claims made of it (since submitted or
                                             last retried from the dead set)
    <ns>:{<store>}:work:history        HASH  item id -> JSON list of its claims that came back
                                             ({a, t, c, r, why}: see work_lib.lua)
    <ns>:{<store>}:work:dead           HASH  item id -> dead record ({q, s, n, at, why}) of an
                                             item that used up its attempts (its JSON stays
                                             in items until it is retried or discarded)
    <ns>:{<store>}:work:dead_at        ZSET  item id -> when it went to the dead set
    <ns>:{<store>}:work:cancelled      ZSET  item id -> when it was cancelled (kept for the done
                                             retention: its holder learns item_cancelled)
    <ns>:{<store>}:work:present        ZSET  associate id -> when it last asked for work at its
                                             home store, claimed or heartbeated here (see
                                             jarvis.store.work.ranking; kept ACTIVITY_KEEP_S)
    <ns>:{<store>}:work:completions    ZSET  item id -> when it was completed (throughput; kept
                                             ACTIVITY_KEEP_S)
    <ns>:{<store>}:work:stats          HASH  submitted, done, claims (token counter), lapsed,
                                             released, dead, retried, discarded, cancelled
    <ns>:{<store>}:epoch, :stats       the partition's fencing epoch and counters (keys.py)

and, across stores (never touched by a store's fenced scripts)::

    <ns>:global:work:stores            ZSET  store -> score (prioritised open remotable load)
    <ns>:global:work:associates        HASH  associate id -> associate JSON
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jarvis.store.keys import DEFAULT_NAMESPACE, GlobalKeys, PartitionKeys
from jarvis.store.work.rules import WorkClass

__all__ = ["GlobalWorkKeys", "WorkKeys"]


@dataclass(frozen=True, slots=True)
class WorkKeys:
    """The work-dispenser keys of one store. Raises BadInputError for a bad store id."""

    store: str
    namespace: str = DEFAULT_NAMESPACE
    partition: PartitionKeys = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "partition", PartitionKeys(self.store, self.namespace))

    def queue(self, cls: WorkClass) -> str:
        return self.partition.key(cls.queue_name)

    @property
    def items(self) -> str:
        return self.partition.key("work:items")

    @property
    def heads(self) -> str:
        """Every non-empty class queue, scored by its first item's score."""
        return self.partition.key("work:heads")

    @property
    def claims(self) -> str:
        return self.partition.key("work:claims")

    @property
    def leases(self) -> str:
        return self.partition.key("work:leases")

    @property
    def done(self) -> str:
        return self.partition.key("work:done")

    @property
    def stats(self) -> str:
        return self.partition.key("work:stats")

    @property
    def attempts(self) -> str:
        return self.partition.key("work:attempts")

    @property
    def history(self) -> str:
        return self.partition.key("work:history")

    @property
    def dead(self) -> str:
        return self.partition.key("work:dead")

    @property
    def cancelled(self) -> str:
        return self.partition.key("work:cancelled")

    @property
    def present(self) -> str:
        return self.partition.key("work:present")

    @property
    def completions(self) -> str:
        return self.partition.key("work:completions")

    @property
    def dead_at(self) -> str:
        return self.partition.key("work:dead_at")


@dataclass(frozen=True, slots=True)
class GlobalWorkKeys:
    """The cross-store keys of the work dispenser."""

    namespace: str = DEFAULT_NAMESPACE

    @property
    def ranking(self) -> str:
        """Stores by score: higher needs remote help more."""
        return GlobalKeys(self.namespace).key("work:stores")

    @property
    def associates(self) -> str:
        return GlobalKeys(self.namespace).key("work:associates")
