"""Key figures of a simulated day, for customers and for couriers.

- ``mean_click_to_door_s``, ``p90_click_to_door_s``: from an order's creation to its
  delivery, over delivered orders;
- ``late_share``: orders delivered later than ``promise_s`` after creation, or never
  delivered (and not cancelled), over all orders not cancelled;
- ``mean_wait_s``: from creation to the accepted assignment, over assigned orders;
- ``orders_per_courier_hour``: deliveries per hour of courier time online;
- ``idle_share``: the share of courier time online spent holding nothing;
- ``reassignments``: orders moved from one courier to another (route-aware policies,
  when ``CityConfig.reassign_max`` > 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from jarvis.sim.engine import SimResult

__all__ = ["KPI_NAMES", "Kpis", "kpis"]


@dataclass(frozen=True)
class Kpis:
    """The figures of one run (see the module docstring)."""

    orders: int
    delivered: int
    undelivered: int
    cancelled: int
    mean_click_to_door_s: float
    p90_click_to_door_s: float
    late_share: float
    mean_wait_s: float
    orders_per_courier_hour: float
    idle_share: float
    reassignments: int
    declines: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


#: The figures in report order.
KPI_NAMES: tuple[str, ...] = tuple(Kpis.__dataclass_fields__)


def kpis(result: SimResult, promise_s: float) -> Kpis:
    """The figures of ``result``, lateness judged against ``promise_s``."""
    records = [r for r in result.records if r.cancelled_at is None]
    done = [r for r in records if r.delivered_at is not None]
    door = np.array(
        [r.delivered_at - r.order.created_at for r in done if r.delivered_at is not None]
    )
    waits = [r.assigned_at - r.order.created_at for r in records if r.assigned_at is not None]
    late = sum(1 for d in door.tolist() if d > promise_s) + (len(records) - len(done))
    hours = result.online_s / 3600.0
    return Kpis(
        orders=len(records),
        delivered=len(done),
        undelivered=len(records) - len(done),
        cancelled=len(result.records) - len(records),
        mean_click_to_door_s=float(door.mean()) if len(door) else float("nan"),
        p90_click_to_door_s=float(np.percentile(door, 90)) if len(door) else float("nan"),
        late_share=late / len(records) if records else 0.0,
        mean_wait_s=float(np.mean(waits)) if waits else float("nan"),
        orders_per_courier_hour=len(done) / hours if hours > 0 else 0.0,
        idle_share=result.idle_s / result.online_s if result.online_s > 0 else 0.0,
        reassignments=result.reassignments,
        declines=sum(r.declines for r in result.records),
    )
