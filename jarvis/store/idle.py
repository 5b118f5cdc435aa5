"""Idle ticks: an owner's tick of a partition where nothing happened, in one round trip.

Most partitions of a big member are idle most of the time: no new event, no open work.
Their full tick (a store: reap, apply, score, counts, signals; a city: apply, snapshot,
commit) would cost five or more round trips to learn that. Instead the owner first runs
one fenced script (``work_idle.lua``, ``city_idle.lua``) that checks whether anything
needs the full tick and, if nothing does, records the tick exactly as an empty commit
does (a ``tick`` marker on the out stream; ``tick``, ``last_tick_at``, ``last_epoch`` in
stats; and ``idle_ticks`` counted). Otherwise it writes nothing (but the fencing epoch)
and the owner runs the full tick.

So a partition's last tick means the same for an idle partition as for a busy one: its
owner, with that epoch, looked at it at that time and did everything there was to do.
A deposed owner is refused (FencedError) before anything is written.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from jarvis.errors import NotReplicatedError
from jarvis.store.city import CityStore
from jarvis.store.keys import PartitionKeys
from jarvis.store.replies import text
from jarvis.store.runner import ScriptRunner, check_epoch
from jarvis.store.specs import CITY_IDLE, WORK_IDLE, Arg, ScriptSpec
from jarvis.store.work.keys import WorkKeys
from jarvis.store.work.queue import WorkQueue

__all__ = [
    "IdleCall",
    "IdleProbe",
    "IdleTick",
    "city_idle_tick",
    "store_idle_tick",
]

log = logging.getLogger(__name__)


class IdleTick(NamedTuple):
    """An idle tick recorded: its marker's out-stream id, and (stores) the dead-set size."""

    marker: str
    dead: int = 0


#: What one idle check of a batch came to: the tick recorded, None (busy: the full tick
#: is needed), or the error its own run would raise.
Checked = IdleTick | Exception | None


class IdleCall(NamedTuple):
    """One idle-tick script call, ready to run alone or in a pipeline.

    ``key_list`` is ``keys`` in the script's order. For the batched path
    (:meth:`packed`), ``packed_keys`` holds the same keys as RESP bulk strings, and the
    arguments are split into ``tick_args`` (those after the epoch that change at every
    tick, in the spec's order) and ``packed_rest`` (the ones after them, which never
    change for the partition, packed): the builders below make the constant parts, and
    check them against the spec, once per partition.
    """

    spec: ScriptSpec
    partition: str
    keys: dict[str, str]
    args: dict[str, Arg]
    epoch: int
    tick: int
    key_list: tuple[str, ...]
    packed_keys: bytes
    tick_args: tuple[Arg, ...]
    packed_rest: bytes

    def packed(self, sha: str) -> bytes:
        """This call as one RESP ``EVALSHA`` command for the script of digest ``sha``."""
        values = [bulk(check_epoch(self.epoch).encode())]
        values += [
            bulk(repr(v).encode() if isinstance(v, float) else str(v).encode())
            for v in self.tick_args
        ]
        return b"".join(
            [_head(sha, len(self.key_list), len(self.spec.args)), self.packed_keys, *values,
             self.packed_rest]
        )  # fmt: skip


@functools.lru_cache(maxsize=64)
def _head(sha: str, keys: int, args: int) -> bytes:
    """The start of an ``EVALSHA`` command: its length, the command, digest and key count."""
    parts = [b"EVALSHA", sha.encode(), str(keys).encode()]
    return b"*%d\r\n" % (3 + keys + args) + b"".join(bulk(p) for p in parts)


def bulk(data: bytes) -> bytes:
    """``data`` as a RESP bulk string."""
    return b"$%d\r\n%s\r\n" % (len(data), data)


def outcome(reply: Any) -> IdleTick | None:
    """What an idle-tick script's reply says: the tick recorded, or None (busy)."""
    if int(reply[0]) != 1:
        return None
    return IdleTick(text(reply[1]), int(reply[2]) if len(reply) > 2 else 0)


#: What never changes in a partition's idle-script call: its keys by name, in the
#: script's order and packed (RESP), and its last arguments packed.
_Fixed = tuple[dict[str, str], tuple[str, ...], bytes, bytes]


def _fixed(
    spec: ScriptSpec, keys: dict[str, str], ticking: tuple[str, ...], rest: dict[str, Arg]
) -> _Fixed:
    """Check ``keys`` and the argument names against ``spec`` (ValueError otherwise: the
    epoch first, then ``ticking``, then ``rest``) and pack what is fixed."""
    if spec.args != ("epoch", *ticking, *rest):
        raise ValueError(
            f"script {spec.name}: arguments {spec.args}, not epoch, {ticking}, {tuple(rest)}"
        )
    key_list, _ = spec.bind(keys, {name: 0 for name in spec.args})  # every key, or ValueError
    packed_rest = b"".join(bulk(str(value).encode()) for value in rest.values())
    return keys, tuple(key_list), b"".join(bulk(k.encode()) for k in key_list), packed_rest


_STORE_TICKING = ("tick", "now", "forget_before")
_CITY_TICKING = ("tick", "now")


@functools.lru_cache(maxsize=1 << 16)
def _store_fixed(namespace: str, store: str, out_maxlen: int) -> _Fixed:
    keys = WorkKeys(store, namespace)
    part = keys.partition
    return _fixed(
        WORK_IDLE,
        {"epoch": part.epoch, "stats": part.stats, "cursor": part.cursor, "in": part.events_in,
         "heads": keys.heads, "claims": keys.claims, "leases": keys.leases, "done": keys.done,
         "dead_at": keys.dead_at, "out": part.decisions_out},
        _STORE_TICKING,
        {"partition": store, "out_maxlen": out_maxlen},
    )  # fmt: skip


@functools.lru_cache(maxsize=1 << 16)
def _city_fixed(namespace: str, city: str, out_maxlen: int) -> _Fixed:
    k = PartitionKeys(city, namespace)
    return _fixed(
        CITY_IDLE,
        {"epoch": k.epoch, "stats": k.stats, "cursor": k.cursor, "in": k.events_in,
         "open": k.open_orders, "out": k.decisions_out, "offers": k.offers},
        _CITY_TICKING,
        {"partition": city, "out_maxlen": out_maxlen},
    )  # fmt: skip


def store_idle_call(
    work: WorkQueue, ticks: CityStore, store: str, epoch: int, tick: int, now: float
) -> IdleCall:
    keys, key_list, packed_keys, packed_rest = _store_fixed(work.namespace, store, ticks.out_maxlen)
    ticking = (tick, float(now), float(work.clock() - work.done_retention_s))
    return IdleCall(
        WORK_IDLE,
        store,
        keys,
        {"epoch": epoch, **dict(zip(_STORE_TICKING, ticking, strict=True)), "partition": store,
         "out_maxlen": ticks.out_maxlen},
        epoch,
        tick,
        key_list,
        packed_keys,
        ticking,
        packed_rest,
    )  # fmt: skip


def city_idle_call(city: CityStore, epoch: int, tick: int, now: float) -> IdleCall:
    keys, key_list, packed_keys, packed_rest = _city_fixed(
        city.namespace, city.partition, city.out_maxlen
    )
    ticking = (tick, float(now))
    return IdleCall(
        CITY_IDLE,
        city.partition,
        keys,
        {"epoch": epoch, "tick": tick, "now": float(now), "partition": city.partition,
         "out_maxlen": city.out_maxlen},
        epoch,
        tick,
        key_list,
        packed_keys,
        ticking,
        packed_rest,
    )  # fmt: skip


def run(runner: ScriptRunner, call: IdleCall) -> IdleTick | None:
    """Run one idle-tick call alone; FencedError when its epoch is stale.

    Too few replicas confirming it (a promoted primary without a replica yet) matters
    only if the partition was idle: its tick marker is then of unknown outcome, like any
    commit's (NotReplicatedError). A busy partition's check wrote nothing but the
    fencing epoch, which the full tick's own writes confirm (or report unknown) next, so
    the full tick runs: the partition keeps deciding, as it did before idle checks.
    """
    try:
        reply = runner.run(call.spec, call.partition, call.keys, call.args, epoch=call.epoch)
    except NotReplicatedError as exc:
        if len(exc.replies) == 1 and outcome(exc.replies[0]) is None:
            return None
        raise
    return outcome(reply)


def store_idle_tick(
    work: WorkQueue, ticks: CityStore, store: str, epoch: int, tick: int, now: float
) -> IdleTick | None:
    """Record tick ``tick`` of ``store`` if the store is idle; None if it needs the full
    tick (nothing written then). ``ticks`` holds the store's tick marker (its out stream
    and stats, shared with cities)."""
    return run(work.scripts, store_idle_call(work, ticks, store, epoch, tick, now))


def city_idle_tick(city: CityStore, epoch: int, tick: int, now: float) -> IdleTick | None:
    """Record tick ``tick`` of ``city`` if it is idle (no new event, no open order, no
    offer due); None if it needs the full tick (nothing written then)."""
    return run(city.scripts, city_idle_call(city, epoch, tick, now))


class IdleProbe:
    """One partition's idle check, as its engine uses it: :meth:`check` runs the script,
    unless a worker already ran it for that tick in a pipeline with other partitions'
    (:meth:`call`, then :meth:`prefetch`; see :mod:`jarvis.actors.pipelined`).

    ``make_call(epoch, tick, now)`` builds the call; ``enabled()`` says whether the
    engine tries the idle path at all now (a store with a score to refresh does not).
    """

    def __init__(
        self,
        runner: ScriptRunner,
        make_call: Callable[[int, int, float], IdleCall],
        enabled: Callable[[], bool] = lambda: True,
    ) -> None:
        self.runner = runner
        self.make_call = make_call
        self.enabled = enabled
        self._prefetched: tuple[int, int, IdleTick | NotReplicatedError | None] | None = None

    def call(self, epoch: int, tick: int, now: float) -> IdleCall | None:
        """The call to run for ``tick`` (None when the idle path is off now)."""
        return self.make_call(epoch, tick, now) if self.enabled() else None

    def prefetch(self, call: IdleCall, result: Checked) -> None:
        """Keep what ``call`` came to in a batch (:func:`~jarvis.store.idle_batch.check_many`),
        for :meth:`check`
        of the same tick. An error is not kept (the tick then runs its own check and meets
        it the usual way), except an idle marker short of replicas: running the check
        again would record that tick a second time."""
        if isinstance(result, NotReplicatedError) or not isinstance(result, Exception):
            self._prefetched = (call.epoch, call.tick, result)

    def check(self, epoch: int, tick: int, now: float) -> IdleTick | None:
        """Record ``tick`` if the partition is idle; None if it needs the full tick."""
        prefetched, self._prefetched = self._prefetched, None
        if prefetched is not None and prefetched[:2] == (epoch, tick):
            if isinstance(prefetched[2], NotReplicatedError):
                raise prefetched[2]
            return prefetched[2]
        return run(self.runner, self.make_call(epoch, tick, now))
