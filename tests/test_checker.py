"""The checker catches each violation in hand-made histories, and passes a clean one."""

from __future__ import annotations

import json
from collections.abc import Mapping

from jarvis.testing.checker import check_history


def _a(i: int, task: str, worker: str, epoch: int = 5, tick: int = 1) -> tuple[str, dict[str, str]]:
    return (
        f"{i}-0",
        {"type": "assignment", "partition": "p", "epoch": str(epoch), "tick": str(tick),
         "task": task, "worker": worker, "at": str(100.0 + i)},
    )  # fmt: skip


def _t(i: int, at: float, epoch: int = 5) -> tuple[str, dict[str, str]]:
    fields = {"type": "tick", "partition": "p", "epoch": str(epoch), "tick": str(i),
              "at": str(at), "assignments": "0"}  # fmt: skip
    return (f"{i}-1", fields)


def _life(
    i: int, kind: str, task: str, worker: str, reason: str = ""
) -> tuple[str, dict[str, str]]:
    fields = {"type": kind, "partition": "p", "epoch": "5", "task": task, "worker": worker,
              "reason": reason, "at": "0", "tick": "0"}  # fmt: skip
    return (f"{i}-2", fields)


def _ev(i: int, event: Mapping[str, object]) -> tuple[str, dict[str, str]]:
    return (f"{i}-0", {"event": json.dumps(event)})


COURIER: Mapping[str, object] = {
    "type": "courier_online",
    "id": "e-c",
    "courier": {"id": "c1", "capacity": 1},
}


def _order(n: int) -> Mapping[str, object]:
    return {"type": "order_created", "id": f"e-o{n}", "order": {"id": f"o{n}"}}


def test_clean_history_passes() -> None:
    out = [_t(1, 10.0), _a(2, "o1", "c1"), _t(3, 10.5), _life(4, "delivered", "o1", "c1"),
           _a(5, "o2", "c1"), _t(6, 11.0)]  # fmt: skip
    report = check_history("p", out, [_ev(1, COURIER), _ev(2, _order(1)), _ev(3, _order(2))])
    assert report.double_assignments == []
    assert report.over_capacity == []
    assert report.stale_commits == []
    assert report.unresolved == []
    assert report.assignments == 2
    assert report.largest_gap == 0.5


def test_task_assigned_while_still_assigned_is_a_double_assignment() -> None:
    report = check_history("p", [_a(1, "o1", "c1"), _a(2, "o1", "c2")])
    assert len(report.double_assignments) == 1
    assert "o1" in report.double_assignments[0]


def test_reassignment_after_the_courier_went_offline_is_not_double() -> None:
    out = [_a(1, "o1", "c1"), _life(2, "unassigned", "o1", "c1", "offline"), _a(3, "o1", "c2")]
    assert check_history("p", out).double_assignments == []


def test_courier_over_its_capacity_is_reported() -> None:
    report = check_history("p", [_a(1, "o1", "c1"), _a(2, "o2", "c1")], [_ev(1, COURIER)])
    assert len(report.over_capacity) == 1


def test_commit_from_a_lower_epoch_after_a_higher_one_is_stale() -> None:
    out = [_a(1, "o1", "c1", epoch=9), _a(2, "o2", "c2", epoch=7)]
    report = check_history("p", out)
    assert len(report.stale_commits) == 1
    assert report.epochs == [9]


def test_accepted_order_never_assigned_is_unresolved_unless_dead_lettered() -> None:
    events = [_ev(1, _order(1)), _ev(2, _order(2)), _ev(3, _order(3))]
    report = check_history("p", [_a(1, "o1", "c1")], events, dead_letter_ids=["3-0"])
    assert report.unresolved == ["o2"]


def test_cancelled_order_counts_as_resolved() -> None:
    events = [_ev(1, _order(1))]
    report = check_history("p", [_life(1, "cancelled", "o1", "")], events)
    assert report.unresolved == []


def test_largest_gap_between_ticks_is_measured() -> None:
    report = check_history("p", [_t(1, 1.0), _t(2, 1.5), _t(3, 4.0), _t(4, 4.5)])
    assert report.largest_gap == 2.5
    assert report.ticks == 4
