"""What each Lua script takes: the names of its ``KEYS`` and ``ARGV``, declared once.

A caller builds a call by name (:meth:`ScriptSpec.bind`), never by position, and
``tests/store/test_script_specs.py`` reads every ``.lua`` file and checks it against its
spec: every ``KEYS[i]`` and ``ARGV[i]`` it uses is declared, every declared one is used,
a variable tail (``more_keys``, ``more_args``) is read from the right place, and no
script builds a key name itself.

A fenced script's first two keys are the partition's ``epoch`` and ``stats`` and its
first argument the writer's ``epoch``: the fencing prelude (``fence.lua``) reads them
before anything else. Every key of one call carries one hash tag (one Redis Cluster
slot); the global keys (store ranking, associates directory) are never script keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "CITY_APPLY",
    "CITY_COMMIT",
    "CITY_IDLE",
    "DEAD_LETTER_RESUBMIT",
    "SPECS",
    "WORK_APPLY",
    "WORK_BATCH_MODE",
    "WORK_CANCEL",
    "WORK_CLAIM_FOR",
    "WORK_COMPLETE",
    "WORK_COUNTS",
    "WORK_DEAD_DISCARD",
    "WORK_DEAD_RETRY",
    "WORK_ENQUEUE",
    "WORK_GET",
    "WORK_GIVE_UP",
    "WORK_HEARTBEAT",
    "WORK_IDLE",
    "WORK_NEED",
    "WORK_REAP",
    "WORK_RELEASE",
    "WORK_SCORE",
    "WORK_SIGNALS",
    "WORK_UPDATE",
    "ScriptSpec",
]

Arg = str | int | float


@dataclass(frozen=True, slots=True)
class ScriptSpec:
    """One script: ``scripts/<name>.lua``, with ``libs`` (``scripts/<lib>.lua``) in front,
    and the fencing prelude before those when ``fenced``.

    ``keys`` and ``args`` name the fixed ``KEYS`` and ``ARGV`` in order. ``more_keys``
    names a variable number of further keys; ``more_args`` names a group of arguments
    repeated after the fixed ones (one group per entry of a batch).
    """

    name: str
    keys: tuple[str, ...]
    args: tuple[str, ...]
    fenced: bool = False
    libs: tuple[str, ...] = ()
    more_keys: str | None = None
    more_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.fenced and (self.keys[:2] != ("epoch", "stats") or self.args[:1] != ("epoch",)):
            raise ValueError(f"fenced script {self.name}: keys start epoch, stats; args epoch")
        for names in (self.keys, self.args, self.more_args):
            if len(set(names)) != len(names):
                raise ValueError(f"script {self.name}: a name is declared twice")

    def bind(
        self,
        keys: Mapping[str, str],
        args: Mapping[str, Arg],
        more_keys: Sequence[str] = (),
        more_args: Sequence[Mapping[str, Arg]] = (),
    ) -> tuple[list[str], list[str]]:
        """``KEYS`` and ``ARGV`` in this script's order, from values given by name.

        A missing or unknown name is a programming error: ValueError.
        """
        _same(self.name, "keys", self.keys, keys)
        _same(self.name, "args", self.args, args)
        if more_keys and self.more_keys is None:
            raise ValueError(f"script {self.name} takes no further keys")
        if more_args and not self.more_args:
            raise ValueError(f"script {self.name} takes no argument groups")
        key_list = [keys[name] for name in self.keys] + list(more_keys)
        arg_list = [_arg(args[name]) for name in self.args]
        for group in more_args:
            _same(self.name, "argument group", self.more_args, group)
            arg_list.extend(_arg(group[name]) for name in self.more_args)
        return key_list, arg_list


def _same(script: str, what: str, declared: tuple[str, ...], given: Mapping[str, object]) -> None:
    if set(given) != set(declared):
        missing = sorted(set(declared) - set(given))
        unknown = sorted(set(given) - set(declared))
        raise ValueError(f"script {script} {what}: missing {missing}, unknown {unknown}")


def _arg(value: Arg) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


_HELD = ("city_held",)
_WORK = ("work_lib",)

CITY_APPLY = ScriptSpec(
    "city_apply",
    keys=(
        "epoch",
        "stats",
        "cursor",
        "applied",
        "in",
        "dead",
        "orders",
        "order_status",
        "open",
        "closed",
        "assignments",
        "couriers",
        "courier_positions",
        "courier_capacity",
        "courier_load",
        "courier_orders",
        "online",
        "out",
        "declines",
        "offers",
    ),
    args=(
        "epoch",
        "cursor",
        "last",
        "horizon_ms",
        "dead_maxlen",
        "partition",
        "out_maxlen",
        "now_ms",
        "batch",  # JSON: flat, [stream_id, type, event_id, a, b, c, d] of each entry in turn
    ),
    fenced=True,
    libs=("apply_lib", *_HELD),
)
CITY_COMMIT = ScriptSpec(
    "city_commit",
    keys=(
        "epoch",
        "stats",
        "order_status",
        "open",
        "assignments",
        "courier_capacity",
        "courier_load",
        "courier_orders",
        "online",
        "out",
        "offers",
        "reassigned",
        "courier_routes",
    ),
    args=(
        "epoch",
        "tick",
        "now",
        "partition",
        "out_maxlen",
        "offer_ms",
        "max_moves",
        "pairs",  # JSON, flat: order, courier, from ('' for a new pair), order, ...
        "routes",  # JSON, flat: courier, stop order, courier, ...
    ),
    fenced=True,
    libs=_HELD,
)
_IDLE = ("idle_lib",)
#: A city's tick when idle (no new event, no open order): marks the tick, one round trip.
CITY_IDLE = ScriptSpec(
    "city_idle",
    keys=("epoch", "stats", "cursor", "in", "open", "out", "offers"),
    args=("epoch", "tick", "now", "partition", "out_maxlen"),
    fenced=True,
    libs=_IDLE,
)
WORK_ENQUEUE = ScriptSpec(
    "work_enqueue",
    keys=("items", "done", "queue", "heads", "work_stats"),
    args=("item", "json", "score"),
    libs=_WORK,
)
WORK_GET = ScriptSpec(
    "work_get",
    keys=("items", "claims", "leases", "work_stats", "heads", "attempts", "present"),
    args=("associate", "now", "expires", "scan", "home"),
    more_keys="candidate queues",
)
WORK_COMPLETE = ScriptSpec(
    "work_complete",
    keys=(
        "items",
        "claims",
        "leases",
        "done",
        "work_stats",
        "attempts",
        "history",
        "cancelled",
        "completions",
    ),
    args=("item", "associate", "now", "token"),
    libs=_WORK,
)
WORK_RELEASE = ScriptSpec(
    "work_release",
    keys=(
        "claims",
        "leases",
        "heads",
        "queue",
        "work_stats",
        "items",
        "attempts",
        "history",
        "dead",
        "dead_at",
        "cancelled",
    ),
    args=("item", "associate", "now", "token", "max_attempts"),
    libs=_WORK,
)
WORK_HEARTBEAT = ScriptSpec(
    "work_heartbeat",
    keys=("claims", "leases", "cancelled", "present"),
    args=("item", "associate", "now", "token", "expires"),
    libs=_WORK,
)
WORK_REAP = ScriptSpec(
    "work_reap",
    keys=(
        "epoch",
        "stats",
        "claims",
        "leases",
        "heads",
        "work_stats",
        "done",
        "items",
        "attempts",
        "history",
        "dead",
        "dead_at",
    ),
    args=("epoch", "now", "limit", "forget_before", "max_attempts"),
    fenced=True,
    libs=_WORK,
    more_keys="queues of the lapsed items",
    more_args=("item",),
)
#: A store's tick when idle (no new event, queued item, claim or done id to forget):
#: marks the tick, one round trip.
WORK_IDLE = ScriptSpec(
    "work_idle",
    keys=(
        "epoch",
        "stats",
        "cursor",
        "in",
        "heads",
        "claims",
        "leases",
        "done",
        "dead_at",
        "out",
    ),
    args=("epoch", "tick", "now", "forget_before", "partition", "out_maxlen"),
    fenced=True,
    libs=_IDLE,
)
WORK_SCORE = ScriptSpec(
    "work_score",
    keys=("epoch", "stats", "heads", "present", "completions"),
    args=("epoch", "now", "urgent_until", "forget_before"),
    fenced=True,
    more_keys="remotable queues",
)
WORK_COUNTS = ScriptSpec(
    "work_counts",
    keys=("heads", "claims", "work_stats", "dead_at"),
    args=(),
    more_keys="non-empty queues",
)
WORK_CLAIM_FOR = ScriptSpec(
    "work_claim_for",
    keys=(
        "epoch",
        "stats",
        "items",
        "claims",
        "leases",
        "work_stats",
        "heads",
        "queue",
        "waiting",
        "reply",
        "attempts",
    ),
    args=("epoch", "item", "associate", "member", "now", "expires", "reply_ttl_s"),
    fenced=True,
)
WORK_DEAD_RETRY = ScriptSpec(
    "work_dead_retry",
    keys=("dead", "dead_at", "attempts", "history", "heads", "queue", "work_stats"),
    args=("item", "now"),
    libs=_WORK,
)
WORK_DEAD_DISCARD = ScriptSpec(
    "work_dead_discard",
    keys=("items", "dead", "dead_at", "attempts", "history", "done", "work_stats"),
    args=("item", "now"),
)
WORK_CANCEL = ScriptSpec(
    "work_cancel",
    keys=(
        "items",
        "claims",
        "leases",
        "heads",
        "queue",
        "attempts",
        "history",
        "dead",
        "dead_at",
        "done",
        "cancelled",
        "work_stats",
    ),
    args=("item", "now", "forget_before"),
    libs=_WORK,
)
WORK_UPDATE = ScriptSpec(
    "work_update",
    keys=("items", "claims", "heads", "queue", "dead"),
    args=("item", "old_json", "new_json", "score"),
    libs=_WORK,
)
WORK_SIGNALS = ScriptSpec(
    "work_signals",
    keys=("heads", "claims", "items", "dead_at"),
    args=("now", "scan"),
    more_keys="non-empty queues",
)
WORK_NEED = ScriptSpec(
    "work_need",
    keys=("heads", "present", "completions"),
    args=("urgent_until", "now", "present_since", "completions_since"),
    more_keys="non-empty queues",
)
WORK_GIVE_UP = ScriptSpec("work_give_up", keys=("waiting", "reply"), args=("member",))
WORK_BATCH_MODE = ScriptSpec(
    "work_batch_mode",
    keys=("epoch", "stats", "mode"),
    args=("epoch", "on", "ttl_ms"),
    fenced=True,
)
WORK_APPLY = ScriptSpec(
    "work_apply",
    keys=(
        "epoch",
        "stats",
        "cursor",
        "applied",
        "in",
        "dead",
        "items",
        "done",
        "heads",
        "claims",
        "leases",
        "work_stats",
        "attempts",
        "history",
        "cancelled",
        "dead_set",
        "dead_at",
        "completions",
    ),
    args=(
        "epoch",
        "cursor",
        "last",
        "horizon_ms",
        "dead_maxlen",
        "partition",
        "now",
        "forget_before",
        "batch",  # JSON: flat, [stream_id, type, event_id, a, b, c, d] of each entry in turn
    ),
    fenced=True,
    libs=("apply_lib", *_WORK),
    more_keys="queues of the submitted items",
)

DEAD_LETTER_RESUBMIT = ScriptSpec(
    "dead_letter_resubmit",
    keys=("dead", "resubmitted", "in"),
    args=("dead_id", "event_id", "event_json", "now", "keep"),
)

#: Every script, by name.
SPECS: dict[str, ScriptSpec] = {
    spec.name: spec
    for spec in (
        CITY_APPLY,
        CITY_COMMIT,
        CITY_IDLE,
        WORK_ENQUEUE,
        WORK_GET,
        WORK_COMPLETE,
        WORK_RELEASE,
        WORK_HEARTBEAT,
        WORK_REAP,
        WORK_IDLE,
        WORK_SCORE,
        WORK_COUNTS,
        WORK_CLAIM_FOR,
        WORK_GIVE_UP,
        WORK_BATCH_MODE,
        WORK_APPLY,
        WORK_DEAD_RETRY,
        WORK_DEAD_DISCARD,
        WORK_CANCEL,
        WORK_UPDATE,
        WORK_SIGNALS,
        WORK_NEED,
        DEAD_LETTER_RESUBMIT,
    )
}
