"""Scenario settings from files: YAML and JSON, and clear errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from jarvis.errors import ConfigError
from jarvis.models import Vehicle
from jarvis.sim import Scenario, clock_seconds, load_scenario, scenario_from


def test_a_yaml_file_sets_the_scenario_and_the_city(tmp_path: Path) -> None:
    path = tmp_path / "day.yaml"
    path.write_text(
        "seed: 7\nstart: '11:00'\nhours: 2\ncouriers: 12\npolicy: bundling\n"
        "vehicle: scooter\ncity: {promise_s: 1500, bundle_pickup_km: 0.4}\n"
    )
    scenario = load_scenario(path)
    assert (scenario.seed, scenario.couriers, scenario.policy) == (7, 12, "bundling")
    assert (scenario.start_s, scenario.end_s) == (11 * 3600, 13 * 3600)
    assert scenario.vehicle is Vehicle.SCOOTER
    assert scenario.city.promise_s == 1500
    assert scenario.city.bundle_pickup_km == 0.4


def test_city_settings_keep_their_types() -> None:
    scenario = scenario_from({"city": {"reassign_max": 2, "acceptance": True}})
    assert scenario.city.reassign_max == 2
    assert scenario.city.acceptance is True
    with pytest.raises(ConfigError, match="reassign_max"):
        scenario_from({"city": {"reassign_max": 1.5}})


def test_a_json_file_sets_the_scenario(tmp_path: Path) -> None:
    path = tmp_path / "day.json"
    path.write_text('{"orders_per_hour": 80, "end": "15:30"}')
    scenario = load_scenario(path)
    assert scenario.orders_per_hour == 80.0
    assert scenario.end_s == 15.5 * 3600


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"couriers": 0}, "couriers: must be > 0"),
        ({"colour": "red"}, "unknown setting 'colour'"),
        ({"policy": "fastest"}, "policy: must be one of"),
        ({"start": "14:00", "end": "13:00"}, "start < end"),
        ({"start": "9h"}, "not a time of day"),
        ({"decline_share": 1.5}, "decline_share: must be between 0 and 1"),
        ({"couriers": 2.5}, "couriers: must be a whole number"),
        ({"couriers": "ten"}, "couriers: must be a number"),
        ({"city": {"promise_s": -1}}, "promise_s: must be > 0"),
        ({"city": {"speed": 3}}, "city: unknown setting(s) 'speed'"),
        ({"vehicle": "rocket"}, "vehicle: must be one of"),
        ({"hours": 0}, "hours: must be a positive number"),
    ],
)
def test_a_bad_setting_is_refused_with_its_name(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        scenario_from(data)
    assert message in str(caught.value)


def test_unreadable_and_malformed_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_scenario(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_scenario(listed)


def test_clock_times_read_as_seconds_of_the_day() -> None:
    assert clock_seconds("00:00") == 0.0
    assert clock_seconds("12:30") == 45000.0
    assert clock_seconds("24:00") == 86400.0
    with pytest.raises(ConfigError):
        clock_seconds("24:30")
    assert Scenario().start_s < Scenario().end_s
