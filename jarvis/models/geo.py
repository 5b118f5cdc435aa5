"""Points on the earth and straight-line distances, vectorised over numpy arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EARTH_RADIUS_KM", "Point", "distance_km", "local_xy_km", "pairwise_distance_km"]

EARTH_RADIUS_KM = 6371.0088

FloatArray = npt.NDArray[np.float64]


class Point(BaseModel):
    """A WGS84 coordinate. Out-of-range values are refused when the point is built."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: float = Field(ge=-90.0, le=90.0, allow_inf_nan=False)
    lon: float = Field(ge=-180.0, le=180.0, allow_inf_nan=False)


def distance_km(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Great-circle (haversine) distance in km, element-wise with numpy broadcasting."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2.0) ** 2
    out: FloatArray = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out


def pairwise_distance_km(a: FloatArray, b: FloatArray) -> FloatArray:
    """Distances between every row of ``a`` (n x 2, lat/lon) and of ``b`` (m x 2): n x m."""
    return distance_km(a[:, None, 0], a[:, None, 1], b[None, :, 0], b[None, :, 1])


def local_xy_km(lat: FloatArray, lon: FloatArray, ref_lat: float, ref_lon: float) -> FloatArray:
    """Project WGS84 points onto a flat plane around ``(ref_lat, ref_lon)``: n x 2, in km.

    Equirectangular: within a city (tens of km) Euclidean distances on this plane differ
    from great-circle ones by well under 0.1 %, and they cost one subtraction and one
    square root per pair instead of four trigonometric functions. Longitudes are wrapped,
    so a partition across the antimeridian projects correctly.
    """
    dlon = (np.asarray(lon) - ref_lon + 180.0) % 360.0 - 180.0
    x = np.radians(dlon) * EARTH_RADIUS_KM * np.cos(np.radians(ref_lat))
    y = np.radians(np.asarray(lat) - ref_lat) * EARTH_RADIUS_KM
    out: FloatArray = np.column_stack([x, y]).astype(np.float64, copy=False)
    return out
