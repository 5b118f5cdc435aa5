"""The shape every partition's decision takes before it is solved.

A :class:`Problem` knows, for any block of (task, worker) pairs, the *reduced cost*
of each pair: ``cost - leave[task]`` where the pair is eligible and assigning beats
leaving the task for the next tick, and exactly ``0`` otherwise (ineligible, or not
cheaper than waiting). Minimising the sum of reduced costs over any matching in which
each worker appears at most ``slots[worker]`` times, then dropping the pairs at ``0``,
is exactly minimising ``sum(cost of assigned pairs) + sum(leave of unassigned tasks)``
over the matchings that use eligible pairs only: an ineligible pair can never be kept,
and a ``0`` pair is worth as much as leaving the task alone. That holds whichever side
is longer, which is why the solver needs no dummy rows or columns and no "large
finite cost" for forbidden pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from jarvis.errors import DuplicateIdError

__all__ = ["Block", "BoolArray", "FloatArray", "IntArray", "Problem", "check_unique"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Block:
    """Reduced costs of a block of pairs (tasks x workers), and which tasks had any
    eligible worker in it."""

    reduced: FloatArray
    eligible_any: BoolArray


class Problem(Protocol):
    """One partition's open tasks and free workers, ready to be costed block by block."""

    @property
    def task_ids(self) -> tuple[str, ...]: ...

    @property
    def worker_ids(self) -> tuple[str, ...]: ...

    @property
    def leave(self) -> FloatArray:
        """Per task: what leaving it unassigned until the next tick costs."""
        ...

    @property
    def slots(self) -> IntArray:
        """Per worker: how many tasks it may take in this decision (>= 1)."""
        ...

    def block(self, tasks: IntArray | None, workers: IntArray | None) -> Block:
        """Reduced costs of ``tasks`` x ``workers`` (``None``: all, in order)."""
        ...


def check_unique(ids: Sequence[str], what: str) -> None:
    """Raise :class:`DuplicateIdError` naming the first id that appears twice."""
    if len(set(ids)) == len(ids):
        return
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise DuplicateIdError(f"{what} id {i!r} appears more than once")
        seen.add(i)
