"""Where a partition's state lives in Redis.

Every key of a partition carries the hash tag ``{<partition>}``, so a partition lives in
one Redis Cluster slot and every Lua script touches one slot::

    <namespace>:{<partition>}:<name>

``namespace`` defaults to ``jarvis``; tests use a fresh one each. Global (cross-partition)
keys, such as the store ranking used by remote associates, live under
``<namespace>:global:<name>`` and are never touched by a partition's fenced scripts.
"""

from __future__ import annotations

from dataclasses import dataclass

from jarvis.models.ids import NAME, check_name

__all__ = ["DEFAULT_NAMESPACE", "PARTITION_ID", "GlobalKeys", "PartitionKeys", "check_partition_id"]

DEFAULT_NAMESPACE = "jarvis"
#: Partition ids follow the one naming rule of :mod:`jarvis.models.ids`.
PARTITION_ID = NAME


def check_partition_id(partition: object) -> str:
    """Return ``partition`` if it is a valid partition id, else raise BadInputError."""
    return check_name(partition, "partition id")


@dataclass(frozen=True, slots=True)
class PartitionKeys:
    """The keys of one partition. Each property is one key."""

    partition: str
    namespace: str = DEFAULT_NAMESPACE

    def __post_init__(self) -> None:
        check_partition_id(self.partition)

    def key(self, name: str) -> str:
        return f"{self.namespace}:{{{self.partition}}}:{name}"

    @property
    def epoch(self) -> str:
        """The highest fencing epoch seen for this partition (decimal string)."""
        return self.key("epoch")

    @property
    def events_in(self) -> str:
        """Stream of incoming events."""
        return self.key("in")

    @property
    def decisions_out(self) -> str:
        """Stream of decisions, each tagged with partition, epoch and tick."""
        return self.key("out")

    @property
    def dead_letter(self) -> str:
        """Stream of events that could not be applied, each with its reason."""
        return self.key("dead")

    @property
    def dead_letter_resubmitted(self) -> str:
        """Hash: dead-letter entry id -> JSON of its re-submission (new stream id, event id,
        when), so an entry is re-submitted once."""
        return self.key("dead:resubmitted")

    @property
    def stats(self) -> str:
        """Hash of counters (fenced commits, dead letters, last tick, ...)."""
        return self.key("stats")

    # -- city partitions (jarvis.store.city) --------------------------------------------

    @property
    def cursor(self) -> str:
        """The id of the last entry of the incoming stream that was applied."""
        return self.key("cursor")

    @property
    def applied_events(self) -> str:
        """Sorted set of applied event ids, scored by stream time (ms); trimmed."""
        return self.key("applied")

    @property
    def orders(self) -> str:
        """Hash: order id -> Order JSON, for orders not yet delivered or cancelled."""
        return self.key("orders")

    @property
    def order_status(self) -> str:
        """Hash: order id -> open | assigned | picked_up | delivered | cancelled."""
        return self.key("order-status")

    @property
    def open_orders(self) -> str:
        """Sorted set of open, unassigned order ids, scored by ``created_at``."""
        return self.key("open")

    @property
    def closed_orders(self) -> str:
        """Sorted set of delivered or cancelled order ids, by stream time (ms); trimmed."""
        return self.key("closed")

    @property
    def assignments(self) -> str:
        """Hash: order id -> courier id, while assigned or picked up."""
        return self.key("assignments")

    @property
    def couriers(self) -> str:
        """Hash: courier id -> Courier JSON as last announced online."""
        return self.key("couriers")

    @property
    def courier_positions(self) -> str:
        """Hash: courier id -> Point JSON, the latest known position."""
        return self.key("courier-positions")

    @property
    def courier_capacity(self) -> str:
        """Hash: courier id -> capacity (total slots)."""
        return self.key("courier-capacity")

    @property
    def courier_load(self) -> str:
        """Hash: courier id -> number of orders assigned and not yet delivered."""
        return self.key("courier-load")

    @property
    def courier_orders(self) -> str:
        """Hash: courier id -> space-separated ids of the orders it holds."""
        return self.key("courier-orders")

    @property
    def courier_routes(self) -> str:
        """Hash: courier id -> its stop order, '+<order id>' pickups and '-<order id>'
        drop-offs, space-separated (jarvis.models.stops); may name orders no longer held."""
        return self.key("courier-routes")

    @property
    def declines(self) -> str:
        """Sorted set: '<order id> <courier id>' scored by when it was declined (ms)."""
        return self.key("declines")

    @property
    def offers(self) -> str:
        """Sorted set: ids of offered orders (acceptance mode) scored by expiry (ms)."""
        return self.key("offers")

    @property
    def reassigned(self) -> str:
        """Hash: order id -> how many times it was reassigned."""
        return self.key("reassigned")

    @property
    def couriers_online(self) -> str:
        """Set of online courier ids."""
        return self.key("online")


@dataclass(frozen=True, slots=True)
class GlobalKeys:
    """Keys that span partitions (never written by a partition's fenced scripts)."""

    namespace: str = DEFAULT_NAMESPACE

    def key(self, name: str) -> str:
        return f"{self.namespace}:global:{name}"
