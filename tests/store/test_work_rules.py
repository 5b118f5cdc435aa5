"""Eligibility classes, start-by scores and enqueue rules (pure, no Redis)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jarvis.errors import BadInputError
from jarvis.models.work import Associate, WorkItem, may_take
from jarvis.store.work.rules import (
    EnqueueRules,
    WorkPolicy,
    candidate_classes,
    item_class,
    start_by,
)

ROLES = ["picker", "stocker", "cashier"]
LICENCES = ["forklift", "alcohol"]
STORES = ["s1", "s2", "s3"]


def _items() -> list[WorkItem]:
    return [
        WorkItem(id=f"w{i}", store=store, role=role, licence=licence, remotable=remotable)
        for i, (store, role, licence, remotable) in enumerate(
            itertools.product(STORES, ROLES, [None, *LICENCES], [False, True])
        )
    ]


associates = st.builds(
    Associate,
    id=st.just("a1"),
    home_store=st.sampled_from(STORES),
    stores=st.frozensets(st.sampled_from(STORES)),
    roles=st.frozensets(st.sampled_from(ROLES), min_size=1),
    licences=st.frozensets(st.sampled_from(LICENCES)),
    remote=st.booleans(),
)


@given(associates)
def test_candidate_classes_are_exactly_what_may_take_allows(associate: Associate) -> None:
    for item in _items():
        allowed = may_take(associate, item) is None
        assert (item_class(item) in candidate_classes(associate, item.store)) == allowed, item


def test_remote_associate_never_gets_store_bound_classes() -> None:
    remote = Associate(
        id="r",
        home_store="s1",
        stores=frozenset({"s1", "s2"}),
        roles=frozenset({"picker"}),
        remote=True,
    )
    for store in STORES:
        assert all(c.remotable for c in candidate_classes(remote, store))
    assert candidate_classes(remote, "s3") == ()


def test_higher_priority_starts_earlier() -> None:
    policy = WorkPolicy(priority_step_s=60.0)
    low = WorkItem(id="a", store="s1", role="picker", due_at=10_000.0, duration_s=100.0)
    high = low.model_copy(update={"priority": 10})
    assert start_by(low, 0.0, policy) == 9_900.0
    assert start_by(high, 0.0, policy) == 9_900.0 - 600.0


def test_item_without_due_time_is_due_a_default_time_after_enqueue() -> None:
    policy = WorkPolicy(default_due_in_s=3600.0)
    item = WorkItem(id="a", store="s1", role="picker", duration_s=600.0)
    assert start_by(item, 1000.0, policy) == 1000.0 + 3600.0 - 600.0


@given(
    old_enqueued=st.floats(0, 1e6),
    old_due=st.one_of(st.none(), st.floats(0, 2e6)),
    old_priority=st.integers(0, 100),
    new_due=st.one_of(st.none(), st.floats(0, 2e6)),
    new_priority=st.integers(0, 100),
    new_duration=st.floats(1, 86400),
)
def test_aging_bounds_how_long_new_urgent_work_can_overtake(
    old_enqueued: float,
    old_due: float | None,
    old_priority: int,
    new_due: float | None,
    new_priority: int,
    new_duration: float,
) -> None:
    policy = WorkPolicy()
    old = WorkItem(id="o", store="s1", role="r", due_at=old_due, priority=old_priority)
    new = WorkItem(
        id="n",
        store="s1",
        role="r",
        due_at=new_due,
        priority=new_priority,
        duration_s=new_duration,
    )
    old_score = start_by(old, old_enqueued, policy)
    # However urgent, work enqueued 100 priority steps after the old item's start-by
    # cannot be ahead of it: a flood of urgent work delays, never starves.
    later = old_score + 100 * policy.priority_step_s
    assert start_by(new, max(later, 0.0), policy) >= old_score - 1e-6


def test_enqueue_rules_refuse_unknown_roles_licences_and_remote_roles() -> None:
    rules = EnqueueRules(
        roles=frozenset({"picker", "stocker"}),
        licences=frozenset({"forklift"}),
        remotable_roles=frozenset({"picker"}),
    )
    rules.check(WorkItem(id="ok", store="s1", role="picker", licence="forklift", remotable=True))
    with pytest.raises(BadInputError, match="unknown role 'cashier'"):
        rules.check(WorkItem(id="a", store="s1", role="cashier"))
    with pytest.raises(BadInputError, match="unknown licence 'alcohol'"):
        rules.check(WorkItem(id="b", store="s1", role="picker", licence="alcohol"))
    with pytest.raises(BadInputError, match="cannot be done remotely"):
        rules.check(WorkItem(id="c", store="s1", role="stocker", remotable=True))


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(BadInputError, match="priority_step_s"):
        WorkPolicy(priority_step_s=float("nan"))
