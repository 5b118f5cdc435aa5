"""The cyclic garbage collector, paused while one thread turns a batch of events into
a script's arguments.

Applying 2,000 incoming events allocates some 10,000 container objects (each event and
work item a pydantic model with its ``__dict__`` and fields-set, the entries' tuples)
that stay alive until the batch is sent and are freed by reference counting right
after: none of them is part of a cycle. While they live, every 700 allocations start a
collection of the young generation, which finds them all alive and moves them on, and
every tenth of those rescans the middle generation: about a tenth of a store apply's
client CPU (3.7 us of 33 us an event, ``gc.callbacks`` timed, 40,000 events of the
bench_ingest mix), all of it work that frees nothing. Once the batch is freed, the
allocation count the collector goes by is back where it was, so pausing it skips that
work instead of postponing it.

The collector is one per process, shared by every partition's thread: the first thread
that pauses it while it is enabled owns the pause and enables it again when its batch is
done, whether or not other threads are still inside theirs (they then run with the
collector on). So the collector is never off for longer than one batch at a time, and a
collector that someone else disabled (a benchmark, an embedding program) is left off; one
that another thread disables while a batch runs is enabled again at the batch's end.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

__all__ = ["collector_paused", "pausing_collector"]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_lock = threading.Lock()
_owner: list[int] = []  # the thread that holds the pause, if any


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off for the block, if it was on and no other thread paused it."""
    with _lock:
        mine = not _owner and gc.isenabled()
        if mine:
            gc.disable()
            _owner.append(threading.get_ident())
    try:
        yield
    finally:
        if mine:
            with _lock:
                _owner.clear()
                gc.enable()


def pausing_collector(call: Callable[_P, _R]) -> Callable[_P, _R]:
    """``call``, run with the cyclic collector paused (:func:`collector_paused`)."""

    @functools.wraps(call)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with collector_paused():
            return call(*args, **kwargs)

    return paused
