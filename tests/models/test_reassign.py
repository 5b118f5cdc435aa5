"""Reassignment: an assigned order moves only when that saves more than the threshold,
at most ``reassign_max`` times, and never before this tick's open orders are served."""

from __future__ import annotations

import math

from jarvis.models import CityConfig, Courier, Decision, HeldOrder, Order, Point, decide_city
from jarvis.models.city_problem import CityProblem
from jarvis.models.reassign import Movable, find_moves, marginal_cost

NOW = 1_700_000_000.0
SHOP = Point(lat=48.85, lon=2.35)
HOME = Point(lat=48.86, lon=2.35)
FAR = Point(lat=48.85, lon=2.42)  # about 5 km east of the shop


def _order(oid: str, pickup: Point = SHOP) -> Order:
    return Order(id=oid, pickup=pickup, dropoff=HOME, created_at=NOW, ready_at=NOW)


ORDER = _order("o1")
SLOW = Courier(id="slow", position=FAR)
NEAR = Courier(id="near", position=SHOP)
MOVABLE = Movable(ORDER, SLOW, (HeldOrder(ORDER),))


def _saving(config: CityConfig) -> float:
    """What moving o1 from ``slow`` to ``near`` saves, from the model's own costs."""
    alone = CityProblem([ORDER], [NEAR], NOW, config)
    near_cost = float(alone.block(None, None).reduced[0, 0] + alone.leave[0])
    return marginal_cost(MOVABLE, NOW, config) - near_cost


def _moves(config: CityConfig, movable: Movable = MOVABLE) -> list[tuple[str, str, str]]:
    moves = find_moves(Decision(()), [], [NEAR], NOW, config, movable=[movable])
    return [(m.task, m.worker, m.source) for m in moves]


def test_a_move_happens_only_when_it_saves_more_than_the_threshold() -> None:
    saving = _saving(CityConfig())
    assert saving > 0  # the courier standing at the shop is much better placed
    above = CityConfig(reassign_max=1, reassign_min_saving=saving * 0.9)
    below = CityConfig(reassign_max=1, reassign_min_saving=saving * 1.1)
    assert _moves(below) == []
    assert _moves(above) == [("o1", "near", "slow")]
    (move,) = find_moves(Decision(()), [], [NEAR], NOW, above, movable=[MOVABLE])
    assert math.isclose(move.saving, saving, rel_tol=1e-9)


def test_an_order_moves_at_most_reassign_max_times_and_never_when_disabled() -> None:
    config = CityConfig(reassign_max=2, reassign_min_saving=1.0)
    assert _moves(config, Movable(ORDER, SLOW, (HeldOrder(ORDER),), moves=1)) != []
    assert _moves(config, Movable(ORDER, SLOW, (HeldOrder(ORDER),), moves=2)) == []
    assert _moves(CityConfig(reassign_max=0, reassign_min_saving=1.0)) == []


def test_open_orders_take_the_free_slots_before_any_move() -> None:
    config = CityConfig(reassign_max=1, reassign_min_saving=1.0)
    waiting = _order("o2")
    decision = decide_city([waiting], [NEAR], NOW, config)
    assert [(a.task, a.worker) for a in decision.assignments] == [("o2", "near")]
    moves = find_moves(decision, [waiting], [NEAR], NOW, config, movable=[MOVABLE])
    assert moves == ()
    roomy = NEAR.model_copy(update={"capacity": 2})
    decision = decide_city([waiting], [roomy], NOW, config)
    moves = find_moves(decision, [waiting], [roomy], NOW, config, movable=[MOVABLE])
    assert [(m.task, m.worker) for m in moves] == [("o1", "near")]


def test_an_order_is_never_moved_to_its_own_courier() -> None:
    config = CityConfig(reassign_max=1, reassign_min_saving=1.0)
    own = Movable(ORDER, NEAR.model_copy(update={"capacity": 2}), (HeldOrder(ORDER),))
    roomy = NEAR.model_copy(update={"capacity": 2})
    held = {"near": [HeldOrder(ORDER)]}
    assert find_moves(Decision(()), [], [roomy], NOW, config, held=held, movable=[own]) == ()
