"""The fencing prelude: a write with a lower epoch than any seen is refused atomically."""

from __future__ import annotations

import pytest
import redis
from redis.commands.core import Script

from jarvis.store.keys import PartitionKeys
from jarvis.store.scripts import _read

PROBE = """
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end
redis.call('SET', KEYS[3], ARGV[2])
return 'ok'
"""


def _probe(rds: redis.Redis) -> Script:
    return rds.register_script(_read("fence.lua") + PROBE)


def test_lower_epoch_is_refused_and_changes_nothing(rds: redis.Redis, namespace: str) -> None:
    keys = PartitionKeys("city-1", namespace)
    script = _probe(rds)
    target = keys.key("probe")
    assert (
        script(keys=[keys.epoch, keys.stats, target], args=["18446744073709551615", "new"]) == "ok"
    )
    with pytest.raises(redis.ResponseError, match="FENCED 18446744073709551615"):
        script(keys=[keys.epoch, keys.stats, target], args=["18446744073709551614", "old"])
    assert rds.get(target) == "new"
    assert rds.hget(keys.stats, "fenced") == "1"


def test_epochs_compare_without_losing_64_bit_precision(rds: redis.Redis, namespace: str) -> None:
    keys = PartitionKeys("city-2", namespace)
    script = _probe(rds)
    # 2**53 + 1 and 2**53 are equal as doubles; as strings they are ordered correctly.
    script(keys=[keys.epoch, keys.stats, keys.key("p")], args=[str(2**53 + 1), "a"])
    with pytest.raises(redis.ResponseError, match="FENCED"):
        script(keys=[keys.epoch, keys.stats, keys.key("p")], args=[str(2**53), "b"])
    with pytest.raises(redis.ResponseError, match="FENCED"):
        script(keys=[keys.epoch, keys.stats, keys.key("p")], args=["99", "c"])  # shorter = lower
    assert rds.get(keys.key("p")) == "a"
    assert rds.get(keys.epoch) == str(2**53 + 1)


def test_malformed_epoch_is_refused(rds: redis.Redis, namespace: str) -> None:
    keys = PartitionKeys("city-3", namespace)
    script = _probe(rds)
    with pytest.raises(redis.ResponseError, match="BADEPOCH"):
        script(keys=[keys.epoch, keys.stats, keys.key("p")], args=["007", "x"])
    assert rds.get(keys.key("p")) is None
