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


def _move(i: int, task: str, worker: str, source: str) -> tuple[str, dict[str, str]]:
    fields = {"type": "reassignment", "partition": "p", "epoch": "5", "tick": "2",
              "task": task, "worker": worker, "from": source, "at": str(100.0 + i)}  # fmt: skip
    return (f"{i}-3", fields)


def _offer(i: int, task: str, worker: str) -> tuple[str, dict[str, str]]:
    entry_id, fields = _a(i, task, worker)
    return entry_id, {**fields, "type": "offer", "expires_at": str(160.0 + i)}


def test_a_second_assignment_is_accepted_only_as_a_reassignment_from_its_courier() -> None:
    moved = check_history("p", [_a(1, "o1", "c1"), _move(2, "o1", "c2", "c1")])
    assert (moved.double_assignments, moved.bad_transitions, moved.reassignments) == ([], [], 1)
    plain = check_history("p", [_a(1, "o1", "c1"), _a(2, "o1", "c2")])
    assert len(plain.double_assignments) == 1
    wrong_from = check_history("p", [_a(1, "o1", "c1"), _move(2, "o1", "c2", "c3")])
    assert len(wrong_from.bad_transitions) == 1
    unheld = check_history("p", [_move(1, "o1", "c2", "c1")])
    assert len(unheld.bad_transitions) == 1
    # after the move the old courier is free: it may take another order
    freed = check_history(
        "p",
        [_a(1, "o1", "c1"), _move(2, "o1", "c2", "c1"), _a(3, "o2", "c1")],
        [_ev(0, COURIER)],
    )
    assert (freed.over_capacity, freed.double_assignments) == ([], [])


def test_offers_are_assignments_that_only_their_courier_accepts() -> None:
    good = check_history(
        "p",
        [
            _offer(1, "o1", "c1"),
            _life(2, "accepted", "o1", "c1"),
            _life(3, "delivered", "o1", "c1"),
        ],
    )
    assert (good.double_assignments, good.bad_transitions, good.assignments) == ([], [], 1)
    expired = check_history(
        "p",
        [
            _offer(1, "o1", "c1"),
            _life(2, "unassigned", "o1", "c1", "expired"),
            _offer(3, "o1", "c2"),
        ],
    )
    assert (expired.double_assignments, expired.bad_transitions) == ([], [])
    twice = check_history("p", [_offer(1, "o1", "c1"), _offer(2, "o1", "c2")])
    assert len(twice.double_assignments) == 1
    stranger = check_history("p", [_offer(1, "o1", "c1"), _life(2, "accepted", "o1", "c2")])
    assert len(stranger.bad_transitions) == 1
    offer_moved = check_history("p", [_offer(1, "o1", "c1"), _move(2, "o1", "c2", "c1")])
    assert len(offer_moved.bad_transitions) == 1
