"""The partition registry in ZooKeeper: add, list, get, remove, and what it refuses."""

from __future__ import annotations

import json

import pytest
from kazoo.client import KazooClient

from jarvis.election import ClusterPaths, PartitionInfo, PartitionRegistry
from jarvis.errors import BadInputError


def test_partitions_are_stored_as_json_and_listed_back(
    registry: PartitionRegistry, zk: KazooClient, cluster: str
) -> None:
    registry.add("berlin", "city", {"tick": 1.0})
    registry.add("store-17", "store")
    data, _ = zk.get(ClusterPaths(cluster).partition("berlin"))
    assert json.loads(data) == {"kind": "city", "config": {"tick": 1.0}}
    assert registry.list() == [
        PartitionInfo("berlin", "city", {"tick": 1.0}),
        PartitionInfo("store-17", "store", {}),
    ]
    assert registry.get("store-17") == PartitionInfo("store-17", "store", {})
    assert registry.get("nowhere") is None


def test_adding_the_same_partition_twice_is_harmless_but_a_different_one_is_refused(
    registry: PartitionRegistry,
) -> None:
    registry.add("berlin", "city", {"tick": 1.0})
    assert registry.add("berlin", "city", {"tick": 1.0}).kind == "city"
    with pytest.raises(BadInputError, match="already exists"):
        registry.add("berlin", "store")
    assert registry.get("berlin") == PartitionInfo("berlin", "city", {"tick": 1.0})


def test_removing_a_partition_deletes_it_and_unknown_ones_are_refused(
    registry: PartitionRegistry,
) -> None:
    registry.add("berlin", "city")
    registry.remove("berlin")
    assert registry.list() == []
    with pytest.raises(BadInputError, match="no such partition"):
        registry.remove("berlin")


@pytest.mark.parametrize("bad_id", ["", "-lead", "has space", "a/b", "x" * 65, "ü"])
def test_bad_partition_ids_are_refused_before_anything_is_written(
    registry: PartitionRegistry, bad_id: str
) -> None:
    with pytest.raises(BadInputError, match="invalid partition id"):
        registry.add(bad_id, "city")
    assert registry.list() == []


def test_bad_kinds_and_configs_are_refused(registry: PartitionRegistry) -> None:
    with pytest.raises(BadInputError, match="invalid partition kind"):
        registry.add("berlin", "town")  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="JSON object"):
        registry.add("berlin", "city", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="acceptance: must be a boolean"):
        registry.add("berlin", "city", {"acceptance": "yes"})
    with pytest.raises(BadInputError, match="offer_timeout_s: must be > 0"):
        registry.add("berlin", "city", {"acceptance": True, "offer_timeout_s": 0})
    assert registry.list() == []
    city = registry.add("berlin", "city", {"acceptance": True, "offer_timeout_s": 45})
    assert city.config == {"acceptance": True, "offer_timeout_s": 45}


def test_a_malformed_cluster_name_is_refused(zk: KazooClient) -> None:
    with pytest.raises(BadInputError, match="cluster name"):
        PartitionRegistry(zk, "a/b")
