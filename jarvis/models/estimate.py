"""Travel-time estimates behind a small protocol, vectorised over whole arrays.

The production systems put a learned model here. Jarvis ships
:class:`StraightLineEstimator` (straight-line distance, a detour factor and a speed per
vehicle) and the :class:`EtaEstimator` seam a learned model plugs into: it receives a
batch of :class:`Legs` (origins and destinations that broadcast against each other, the
straight-line distance already computed, the vehicle of each leg and the departure
time) and returns seconds in the broadcast shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from jarvis.errors import ConfigError, InvalidEstimateError
from jarvis.models.city import Vehicle

__all__ = [
    "DEFAULT_SPEEDS_KMH",
    "VEHICLES",
    "EtaEstimator",
    "Legs",
    "StraightLineEstimator",
    "check_estimate",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: Vehicles in the order of their integer codes (``Legs.vehicle``).
VEHICLES: tuple[Vehicle, ...] = tuple(Vehicle)

DEFAULT_SPEEDS_KMH: Mapping[Vehicle, float] = {
    Vehicle.WALK: 5.0,
    Vehicle.BIKE: 15.0,
    Vehicle.SCOOTER: 25.0,
    Vehicle.CAR: 30.0,
}


@dataclass(frozen=True)
class Legs:
    """A batch of trips; every array broadcasts to the shape of ``distance_km``.

    ``origin`` and ``destination`` hold latitude and longitude in their last axis;
    ``vehicle`` holds codes into :data:`VEHICLES`; ``depart_at`` is seconds since the epoch.
    """

    origin: FloatArray
    destination: FloatArray
    distance_km: FloatArray
    vehicle: IntArray
    depart_at: float


class EtaEstimator(Protocol):
    """Estimates travel times for a batch of legs."""

    def travel_s(self, legs: Legs) -> FloatArray:
        """Seconds for every leg, in the broadcast shape of ``legs.distance_km``."""
        ...


class StraightLineEstimator:
    """Straight-line distance times a detour factor, at a constant speed per vehicle."""

    def __init__(
        self, speeds_kmh: Mapping[Vehicle, float] | None = None, detour: float = 1.3
    ) -> None:
        speeds = dict(DEFAULT_SPEEDS_KMH if speeds_kmh is None else speeds_kmh)
        missing = [v.value for v in VEHICLES if v not in speeds]
        if missing:
            raise ConfigError(f"speeds_kmh: no speed for vehicle(s) {', '.join(missing)}")
        for vehicle, speed in speeds.items():
            if not np.isfinite(speed) or speed <= 0:
                raise ConfigError(f"speeds_kmh[{vehicle.value}]: must be > 0, got {speed!r}")
        if not np.isfinite(detour) or detour < 1.0:
            raise ConfigError(f"detour: must be >= 1, got {detour!r}")
        #: Seconds per straight-line km, by vehicle code.
        self.s_per_km: FloatArray = np.array([3600.0 * detour / speeds[v] for v in VEHICLES])

    def travel_s(self, legs: Legs) -> FloatArray:
        out: FloatArray = legs.distance_km * self.s_per_km[legs.vehicle]
        return out


def check_estimate(values: FloatArray, what: str) -> None:
    """Raise :class:`InvalidEstimateError` unless every value is finite and >= 0."""
    if values.size == 0:
        return
    lo, hi = float(values.min()), float(values.max())  # NaN propagates through both
    if not (lo >= 0.0 and hi < np.inf):
        raise InvalidEstimateError(
            f"{what}: estimates must be finite and >= 0, got min {lo!r}, max {hi!r}"
        )
