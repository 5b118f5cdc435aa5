"""Measured weights: a partition weighs what its open tasks say, smoothed and coarse.

A member that measures (``Member(..., loads=...)``) samples the open tasks of each
partition it owns, keeps an exponentially weighted average per partition (half-life
``weight_half_life`` seconds), and turns it into a weight::

    weight = max(1, average open tasks / weight_unit), rounded to a quarter power of two

so an idle store weighs 1 and a city with 4,000 open orders and a unit of 100 weighs 40
(38.05, to be exact: the nearest step of 2 ** (1/4)). The coarse steps, the average and
a publish interval (``weight_publish_interval``) keep the weights still while a
partition's load is: balance moves a partition only when weights really changed.

Why open tasks and not tick time: every member must weigh a partition the same. Tick
time depends on the host and on how loaded it is (a slow member would see all its
partitions as heavy and push them away, and the next owner would measure them light);
open tasks are a property of the partition, the same wherever it runs. They also drive
the tick's cost (the size of its cost matrix).

The weights are published in the owner's member node (``loads``, every partition it runs);
every member reads them from its snapshot. A partition not listed by its owner (just
moved, not measured yet) keeps the weight last published for it. A partition's
``weight`` in its config, when set, wins over the measurement (an operator's word).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

from jarvis.election.weights import DEFAULT_WEIGHT, MAX_WEIGHT

__all__ = ["MeasuredLoads", "measured_weight"]

#: Weights move in steps of 2 ** (1 / _STEPS): about 19 % apart.
_STEPS = 4


def measured_weight(open_tasks: float, unit: float) -> float:
    """The weight of a partition with ``open_tasks`` open tasks on average (>= 1, coarse)."""
    raw = open_tasks / unit
    if raw <= DEFAULT_WEIGHT:
        return DEFAULT_WEIGHT
    step = round(math.log2(raw) * _STEPS) / _STEPS
    return float(min(MAX_WEIGHT, round(2.0**step, 2)))


class MeasuredLoads:
    """Per-partition averages of open tasks, and when to publish their weights.

    A partition is averaged from its first sample on this member; ``seed`` (partition ->
    weight last published by anyone) starts a newly owned partition at its known weight
    instead, so it does not look light while the average builds up.

    ``sample`` returns partition -> open tasks now, for the partitions this member runs
    (any it does not own are ignored; one it owns but has not ticked yet is left out
    and not counted as idle). Used only on the member's worker thread.
    """

    def __init__(
        self,
        sample: Callable[[], Mapping[str, float]],
        *,
        unit: float,
        half_life: float,
        publish_interval: float,
    ) -> None:
        self._sample = sample
        self._unit = unit
        self._half_life = half_life
        self._publish_interval = publish_interval
        self._average: dict[str, float] = {}
        self._sampled_at: float | None = None
        self._published_at: float | None = None
        #: The weights as last published (what the member node says).
        self.published: dict[str, float] = {}

    def update(
        self, owned: Iterable[str], now: float, seed: Mapping[str, float] | None = None
    ) -> None:
        """Fold one sample into the averages of the partitions in ``owned``."""
        owned = set(owned)
        values = self._sample()
        keep = 1.0
        if self._sampled_at is not None:
            keep = 0.5 ** (max(0.0, now - self._sampled_at) / self._half_life)
        self._sampled_at = now
        for partition_id in list(self._average):
            if partition_id not in owned:
                del self._average[partition_id]
        for partition_id in owned:
            before = self._average.get(partition_id)
            if before is None and seed and partition_id in seed:
                before = self._average[partition_id] = seed[partition_id] * self._unit
            if partition_id not in values:
                continue  # not ticked here yet: nothing to fold in
            value = max(0.0, float(values[partition_id]))
            self._average[partition_id] = (
                value if before is None else keep * before + (1.0 - keep) * value
            )

    def weights(self) -> dict[str, float]:
        """Partition -> measured weight, for every partition sampled (an owner lists all
        it runs, so a partition it does not list is one it has not measured yet)."""
        return {p: measured_weight(a, self._unit) for p, a in self._average.items()}

    def due(self, now: float) -> dict[str, float] | None:
        """The weights to publish now, or None: not yet time, or nothing changed."""
        if self._published_at is not None and now - self._published_at < self._publish_interval:
            return None
        weights = self.weights()
        if weights == self.published:
            return None
        return weights

    def mark_published(self, weights: Mapping[str, float], now: float) -> None:
        self.published = dict(weights)
        self._published_at = now
