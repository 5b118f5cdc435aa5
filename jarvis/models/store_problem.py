"""A store's batch decision as arrays: work items x associates.

Eligibility is :func:`jarvis.models.work.may_take` plus the dequeue rules, computed as
boolean masks over the whole matrix (roles, licences and stores encoded as integers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from jarvis.errors import DispatchError
from jarvis.models.config import StoreConfig
from jarvis.models.problem import Block, BoolArray, FloatArray, IntArray, check_unique
from jarvis.models.rules import Rules
from jarvis.models.work import Associate, WorkItem

__all__ = ["StoreProblem"]


def _membership(sets: Sequence[Iterable[str]], vocabulary: dict[str, int]) -> BoolArray:
    """Workers x vocabulary: does worker ``i`` hold word ``j``."""
    out = np.zeros((len(sets), len(vocabulary) + 1), bool)  # last column: "none needed"
    out[:, -1] = True
    for i, words in enumerate(sets):
        for word in words:
            j = vocabulary.get(word)
            if j is not None:
                out[i, j] = True
    return out


class StoreProblem:
    """Open work items and free associates of one store at time ``now``."""

    def __init__(
        self,
        items: Sequence[WorkItem],
        associates: Sequence[Associate],
        now: float,
        config: StoreConfig,
        rules: Rules | None = None,
    ) -> None:
        check_unique([i.id for i in items], "work item")
        check_unique([a.id for a in associates], "associate")
        if not np.isfinite(now):
            raise DispatchError(f"now must be finite, got {now!r}")
        rules = rules or Rules()
        self._task_ids = tuple(i.id for i in items)
        self._worker_ids = tuple(a.id for a in associates)
        limits = [rules.limits(a) for a in associates]
        self._slots = np.array(
            [min(config.items_per_associate, lim.max_tasks) for lim in limits], np.intp
        )

        roles = {r: k for k, r in enumerate(sorted({i.role for i in items}))}
        licences = {r: k for k, r in enumerate(sorted({i.licence for i in items if i.licence}))}
        stores = {s: k for k, s in enumerate(sorted({i.store for i in items}))}
        role = np.array([roles[i.role] for i in items], np.intp)
        licence = np.array(
            [len(licences) if i.licence is None else licences[i.licence] for i in items], np.intp
        )
        store = np.array([stores[i.store] for i in items], np.intp)
        remotable = np.array([i.remotable for i in items], bool)
        priority = np.array([i.priority for i in items], np.int64)
        remote = np.array([a.remote for a in associates], bool)
        home = np.array([stores.get(a.home_store, -1) for a in associates], np.intp)

        eligible = _membership([a.roles for a in associates], roles)[:, role].T
        eligible &= _membership([a.licences for a in associates], licences)[:, licence].T
        qualified = _membership([a.stores for a in associates], stores)[:, store].T
        in_store = (~remote)[None, :] & (home[None, :] == store[:, None])
        eligible &= in_store | (remotable[:, None] & qualified)
        min_priority = np.array([lim.min_priority for lim in limits], np.int64)
        eligible &= priority[:, None] >= min_priority[None, :]
        for w, lim in enumerate(limits):
            if lim.task_roles is not None:
                allowed = np.array([r in lim.task_roles for r in roles], bool)
                eligible[:, w] &= allowed[role]
        self.eligible = eligible

        duration = np.array([i.duration_s for i in items], float)
        due = np.array([np.inf if i.due_at is None else i.due_at for i in items], float)
        if not (np.isfinite(duration).all() and (duration > 0).all() and not np.isnan(due).any()):
            raise DispatchError("work item durations must be finite and > 0, due_at not NaN")
        overdue = np.maximum(0.0, now + duration - due)
        weight = 1.0 + config.priority_weight * priority.astype(float)
        self._leave: FloatArray = weight * (config.wait_cost_s + config.lateness_weight * overdue)
        self.cost = duration[:, None] + config.remote_penalty_s * remote[None, :].astype(float)

    @property
    def task_ids(self) -> tuple[str, ...]:
        return self._task_ids

    @property
    def worker_ids(self) -> tuple[str, ...]:
        return self._worker_ids

    @property
    def leave(self) -> FloatArray:
        return self._leave

    @property
    def slots(self) -> IntArray:
        return self._slots

    def block(self, tasks: IntArray | None, workers: IntArray | None) -> Block:
        t = slice(None) if tasks is None else tasks
        w = slice(None) if workers is None else workers
        eligible = self.eligible[t][:, w]
        reduced = self.cost[t][:, w] - self._leave[t][:, None]
        reduced[~eligible] = 0.0
        np.minimum(reduced, 0.0, out=reduced)
        return Block(reduced, np.asarray(eligible.any(axis=1)))
