"""Straight-line estimates, the local plane, and configuration checks."""

from __future__ import annotations

import numpy as np
import pytest

from jarvis.errors import ConfigError
from jarvis.models import CityConfig, Legs, StoreConfig, StraightLineEstimator, Vehicle
from jarvis.models.estimate import VEHICLES
from jarvis.models.geo import distance_km, local_xy_km


def test_straight_line_estimate_is_distance_times_detour_over_speed() -> None:
    est = StraightLineEstimator({v: 10.0 for v in Vehicle}, detour=1.5)
    legs = Legs(
        origin=np.zeros((1, 1, 2)),
        destination=np.zeros((1, 1, 2)),
        distance_km=np.array([[1.0, 2.0]]),
        vehicle=np.array([[0, 3]]),
        depart_at=0.0,
    )
    np.testing.assert_allclose(est.travel_s(legs), [[540.0, 1080.0]])


def test_faster_vehicles_arrive_sooner() -> None:
    est = StraightLineEstimator()
    codes = np.arange(len(VEHICLES))[None, :]
    legs = Legs(np.zeros((1, 1, 2)), np.zeros((1, 1, 2)), np.ones((1, 1)), codes, 0.0)
    times = est.travel_s(legs)[0]
    walk, car = VEHICLES.index(Vehicle.WALK), VEHICLES.index(Vehicle.CAR)
    assert times[walk] > times[car] > 0


@pytest.mark.parametrize(
    ("speeds", "detour", "message"),
    [({Vehicle.WALK: 5.0}, 1.3, "no speed"), (None, 0.5, "detour"), (None, float("nan"), "detour")],
)
def test_bad_estimator_settings_raise(
    speeds: dict[Vehicle, float] | None, detour: float, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        StraightLineEstimator(speeds, detour)


@pytest.mark.parametrize(("ref_lat", "ref_lon"), [(48.85, 2.35), (-33.9, 151.2), (-16.8, 179.95)])
def test_local_plane_matches_great_circle_within_a_city(ref_lat: float, ref_lon: float) -> None:
    rng = np.random.default_rng(1)
    lat = ref_lat + rng.uniform(-0.1, 0.1, 200)
    lon = (ref_lon + rng.uniform(-0.15, 0.15, 200) + 180.0) % 360.0 - 180.0
    xy = local_xy_km(lat, lon, ref_lat, ref_lon)
    plane = np.hypot(*(xy[:100] - xy[100:]).T)
    sphere = distance_km(lat[:100], lon[:100], lat[100:], lon[100:])
    np.testing.assert_allclose(plane, sphere, rtol=2e-3)


def test_bad_solver_settings_raise() -> None:
    with pytest.raises(ConfigError, match="max_delivery_s"):
        CityConfig(max_delivery_s=0)
    with pytest.raises(ConfigError, match="lateness_weight"):
        CityConfig(lateness_weight=float("inf"))
    with pytest.raises(ConfigError, match="items_per_associate"):
        StoreConfig(items_per_associate=0)
