"""Rules load from TOML, are validated with errors naming rule and field, and apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from jarvis.errors import BadInputError, ConfigError
from jarvis.models import Associate, Courier, Point, Rules, Vehicle, WorkItem, load_rules

RULES = """
[[enqueue]]
name = "pallets"
when = { category = ["pallet", "bulk"] }
role = "stocker"
licence = "forklift"

[[enqueue]]
name = "default"
role = "picker"
remotable = true

[[dequeue]]
name = "walkers-short-hops"
vehicles = ["walk"]
max_pickup_km = 2.0
max_tasks = 1

[[dequeue]]
name = "everyone"
max_pickup_km = 8.0

[[dequeue]]
name = "remote-urgent-picking"
remote = true
min_priority = 50
task_roles = ["picker"]
"""


@pytest.fixture
def rules(tmp_path: Path) -> Rules:
    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    return load_rules(path)


def test_enqueue_rules_qualify_arriving_tasks(rules: Rules) -> None:
    pallet = rules.qualify({"category": "bulk"})
    assert (pallet.role, pallet.licence, pallet.remotable, pallet.rule) == (
        "stocker",
        "forklift",
        False,
        "pallets",
    )
    assert rules.qualify({"category": "letter"}).rule == "default"


def test_no_matching_enqueue_rule_is_a_validation_error() -> None:
    with pytest.raises(BadInputError, match="no enqueue rule"):
        Rules().qualify({"category": "x"})


def test_dequeue_rules_fold_into_worker_limits(rules: Rules) -> None:
    walker = Courier(id="c1", position=Point(lat=0, lon=0), vehicle=Vehicle.WALK)
    car = Courier(id="c2", position=Point(lat=0, lon=0), vehicle=Vehicle.CAR)
    assert (rules.limits(walker).max_pickup_km, rules.limits(walker).max_tasks) == (2.0, 1)
    assert (rules.limits(car).max_pickup_km, rules.limits(car).max_tasks) == (8.0, 20)


def test_dequeue_rules_filter_what_an_associate_may_take(rules: Rules) -> None:
    remote = Associate(
        id="a1", home_store="s9", stores=frozenset({"s1"}), roles=frozenset({"picker"}), remote=True
    )
    urgent = WorkItem(id="w1", store="s1", role="picker", remotable=True, priority=60)
    routine = urgent.model_copy(update={"id": "w2", "priority": 10})
    bound = urgent.model_copy(update={"id": "w3", "remotable": False})
    assert rules.refuses_item(remote, urgent) is None
    assert "priority below 50" in str(rules.refuses_item(remote, routine))
    assert "bound to store" in str(rules.refuses_item(remote, bound))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[dequeue]]\nname = "fast"\nmax_pickup_km = -1',
            "dequeue rule #1 ('fast'), field max_pickup_km",
        ),
        (
            '[[dequeue]]\nname = "ok"\nmax_tasks = 1\n[[dequeue]]\nname = "typo"\nmax_pikup_s = 3',
            "dequeue rule #2 ('typo'), field max_pikup_s",
        ),
        ('[[dequeue]]\nname = "empty"\nvehicles = ["car"]', "dequeue rule #1 ('empty')"),
        ('[[enqueue]]\nname = "r"\nrole = "has space"', "enqueue rule #1 ('r'), field role"),
        ('[[dequeue]]\nname = "v"\nvehicles = ["boat"]\nmax_tasks = 1', "field vehicles"),
        ("[[enqueue]\n", "not valid TOML"),
        ("[[unknown]]\nname = 1", "unknown"),
    ],
)
def test_bad_rules_files_name_the_rule_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as excinfo:
        load_rules(path)
    assert message in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_missing_rules_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(tmp_path / "absent.toml")
