"""Restaurants: where orders are picked up, and how long each takes to prepare one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jarvis.models import Point

__all__ = ["CENTRE", "Restaurant", "make_restaurants", "point_in_city"]

#: The simulated city's centre (any point works: the decision code projects locally).
CENTRE = Point(lat=48.8566, lon=2.3522)
_KM_PER_DEG_LAT = 111.2


def point_in_city(rng: np.random.Generator, radius_km: float, spread: float = 1.0) -> Point:
    """A point of the square city of half-side ``radius_km`` (denser near the centre
    when ``spread`` < 1: a normal draw of that many half-sides, clipped to the square)."""
    if spread >= 1.0:
        dx, dy = rng.uniform(-radius_km, radius_km, 2)
    else:
        dx, dy = np.clip(rng.normal(0.0, spread * radius_km, 2), -radius_km, radius_km)
    lat = CENTRE.lat + float(dy) / _KM_PER_DEG_LAT
    lon = CENTRE.lon + float(dx) / (_KM_PER_DEG_LAT * float(np.cos(np.radians(CENTRE.lat))))
    return Point(lat=lat, lon=lon)


@dataclass(frozen=True)
class Restaurant:
    """A pickup place; its orders take ``prep_mean_s`` on average to prepare."""

    id: str
    position: Point
    prep_mean_s: float

    def prep_s(self, rng: np.random.Generator) -> float:
        """One preparation time: gamma-distributed (shape 4) around the mean."""
        return float(rng.gamma(4.0, self.prep_mean_s / 4.0))


def make_restaurants(
    rng: np.random.Generator, count: int, radius_km: float, prep_mean_s: float
) -> tuple[Restaurant, ...]:
    """``count`` restaurants, clustered towards the centre, with their own mean times
    (between half and one and a half times ``prep_mean_s``)."""
    return tuple(
        Restaurant(
            id=f"r{i}",
            position=point_in_city(rng, radius_km, spread=0.45),
            prep_mean_s=prep_mean_s * float(rng.uniform(0.5, 1.5)),
        )
        for i in range(count)
    )
