"""City partitions: delivery orders (tasks) and couriers (workers)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from jarvis.models.geo import Point

__all__ = ["ID_PATTERN", "Courier", "Order", "Vehicle"]

#: Ids of tasks, workers and partitions: 1-64 printable characters without spaces.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$"


class Vehicle(StrEnum):
    """A courier's speed class."""

    WALK = "walk"
    BIKE = "bike"
    SCOOTER = "scooter"
    CAR = "car"


class Order(BaseModel):
    """A delivery order: picked up at ``pickup`` from ``ready_at``, delivered at ``dropoff``.

    Times are seconds since the Unix epoch. ``priority`` is 0 (normal) and up; a higher
    priority weighs more in the solver's cost.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    pickup: Point
    dropoff: Point
    created_at: float = Field(ge=0, allow_inf_nan=False)
    ready_at: float = Field(ge=0, allow_inf_nan=False)
    priority: int = Field(default=0, ge=0, le=100)


class Courier(BaseModel):
    """A courier: where they are, how many orders they may carry at once, how fast."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    position: Point
    capacity: int = Field(default=1, ge=1, le=20)
    vehicle: Vehicle = Vehicle.BIKE
    online: bool = True
