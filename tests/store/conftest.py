"""This suite runs against a standalone Redis and against a Redis Cluster."""

from __future__ import annotations

import pytest


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "redis_mode" in metafunc.fixturenames:
        metafunc.parametrize("redis_mode", ["standalone", "cluster"])
