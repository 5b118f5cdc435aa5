"""`jarvis partitions`, `jarvis members`, `jarvis drain`: output matches ZooKeeper, and
bad arguments exit with code 2 and a message."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kazoo.client import KazooClient

from jarvis.cli.main import EXIT_OK, EXIT_USAGE, main
from jarvis.election import ClusterPaths, ClusterView, PartitionRegistry
from jarvis.store.keys import PartitionKeys
from tests.election.conftest import Spawn, add_partitions, balanced
from tests.faults import wait_for, wait_owned


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def flags(zk_hosts: str, cluster: str) -> list[str]:
    return ["--zk", zk_hosts, "--cluster", cluster]


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _zookeeper_rows(zk: KazooClient, cluster: str) -> list[dict[str, Any]]:
    """What `partitions --json` should say, read straight from the nodes."""
    paths = ClusterPaths(cluster)
    rows = []
    for partition_id in sorted(zk.get_children(paths.partitions)):
        kind = json.loads(zk.get(paths.partition(partition_id))[0])["kind"]
        row: dict[str, Any] = {"partition": partition_id, "kind": kind, "owner": None}
        row |= {"zone": None, "epoch": None, "since": None}
        row |= {"pin": None, "moving_to": None, "frozen": False, "weight": 1.0}
        if zk.exists(paths.owner(partition_id)):
            data, stat = zk.get(paths.owner(partition_id))
            owner = json.loads(data)
            row |= {"owner": owner["member"], "zone": owner["zone"], "epoch": stat.czxid}
            row["since"] = owner["acquired_at"]
        rows.append(row)
    return rows


def test_partitions_json_matches_zookeeper_unowned_and_owned(
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
    zk: KazooClient,
    cluster: str,
) -> None:
    add_partitions(registry, 5)
    registry.add("store-1", "store", {"remote": True})
    code, out, _ = run(capsys, "partitions", "--json", *flags)
    assert code == EXIT_OK
    listed = json.loads(out)
    assert [r["owner"] for r in listed] == [None] * 6
    assert listed == _zookeeper_rows(zk, cluster)

    spawn("a", "z1", recorded=False)
    spawn("b", "z2", recorded=False)
    wait_for(lambda: balanced(view, {"a": 3, "b": 3}), 10, "3 partitions each")
    code, out, _ = run(capsys, "partitions", "--json", *flags)
    assert code == EXIT_OK
    listed = json.loads(out)
    assert listed == _zookeeper_rows(zk, cluster)
    assert {r["owner"] for r in listed} == {"a", "b"}
    assert {r["kind"] for r in listed} == {"city", "store"}

    code, out, _ = run(capsys, "partitions", *flags)
    assert code == EXIT_OK
    header, *lines = out.splitlines()
    assert header.split() == ["PARTITION", "KIND", "OWNER", "ZONE", "EPOCH", "SINCE"]
    assert lines[-1] == "6 partitions, 6 owned"
    store = next(r for r in listed if r["partition"] == "store-1")
    store_line = next(line for line in lines if line.startswith("store-1 "))
    assert store_line.split()[:5] == [
        "store-1",
        "store",
        store["owner"],
        store["zone"],
        str(store["epoch"]),
    ]


def test_members_json_matches_zookeeper(
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
) -> None:
    add_partitions(registry, 5)
    spawn("a", "z1", recorded=False, version="9.9.9")
    spawn("b", "z2", recorded=False, version="9.9.9")  # one version: balance
    wait_for(lambda: sorted(v for k, v in balanced_counts(view).items()) == [2, 3], 10, "2 and 3")
    code, out, _ = run(capsys, "members", "--json", *flags)
    assert code == EXIT_OK
    listed = json.loads(out)
    counts = balanced_counts(view)
    assert [(m["member"], m["zone"], m["partitions"], m["draining"]) for m in listed] == [
        ("a", "z1", counts["a"], False),
        ("b", "z2", counts["b"], False),
    ]
    assert listed[0]["version"] == "9.9.9"
    assert all(isinstance(m["pid"], int) and m["host"] for m in listed)

    code, out, _ = run(capsys, "members", *flags)
    assert out.splitlines()[0].split() == [
        "MEMBER",
        "ZONE",
        "PARTITIONS",
        "DRAINING",
        "VERSION",
        "HOST",
        "PID",
    ]
    assert out.splitlines()[-1] == "2 members"


def balanced_counts(view: ClusterView) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in view.partitions():
        if row.owner is not None:
            counts[row.owner] = counts.get(row.owner, 0) + 1
    return counts


def test_partitions_add_and_remove_write_the_registry(
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    registry: PartitionRegistry,
) -> None:
    code, out, _ = run(
        capsys, "partitions", "add", "berlin", "city", "--config", '{"tick": 1}', *flags
    )
    assert (code, out.strip()) == (EXIT_OK, "partition berlin (city) added")
    # Connection flags may also come before the action.
    code, _, _ = run(capsys, "partitions", *flags, "add", "store-9", "store")
    assert code == EXIT_OK
    assert [(p.id, p.kind, dict(p.config)) for p in registry.list()] == [
        ("berlin", "city", {"tick": 1}),
        ("store-9", "store", {}),
    ]
    code, out, _ = run(capsys, "partitions", "remove", "berlin", *flags)
    assert (code, out.strip()) == (EXIT_OK, "partition berlin removed")
    assert [p.id for p in registry.list()] == ["store-9"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["partitions", "add", "bad id", "city"], "invalid partition id"),
        (["partitions", "add", "p1", "town"], "invalid choice"),
        (["partitions", "add", "p1", "city", "--config", "[1]"], "JSON object"),
        (["partitions", "add", "p1", "city", "--config", "{nope"], "not valid JSON"),
        (["partitions", "remove", "nowhere"], "no such partition"),
        (["partitions", "--watch", "0"], "positive"),
        (["partitions", "--namespace", "a b"], "--namespace"),
        (["drain", "nobody"], "no live member"),
        (["drain", "-x"], "error"),
        (["members", "--cluster", "a/b"], "invalid cluster name"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_with_code_2_and_a_message(
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    registry: PartitionRegistry,
    argv: list[str],
    message: str,
) -> None:
    # Our flags come first, so a flag in argv (like --cluster) overrides them.
    code, out, err = run(capsys, *argv[:1], *flags, *argv[1:])
    assert code == EXIT_USAGE, (out, err)
    assert message in err
    assert registry.list() == []


def test_drain_moves_every_partition_off_the_member_and_waits_for_it(
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
) -> None:
    add_partitions(registry, 6)
    leaving = spawn("a", "z1", recorded=False)
    staying = spawn("b", "z2", recorded=False)
    wait_for(lambda: balanced(view, {"a": 3, "b": 3}), 10, "3 partitions each")
    code, out, _ = run(capsys, "drain", "a", "--timeout", "10", *flags)
    assert code == EXIT_OK
    assert out.splitlines() == ["asked a to drain", "a holds no partitions"]
    assert leaving.draining
    assert leaving.owned() == {}
    wait_owned(staying, lambda owned: len(owned) == 6, 10, "b owns all 6")
    code, out, _ = run(capsys, "members", "--json", *flags)
    members = {m["member"]: m for m in json.loads(out)}
    assert (members["a"]["draining"], members["a"]["partitions"]) == (True, 0)
    assert (members["b"]["draining"], members["b"]["partitions"]) == (False, 6)


def test_partitions_show_the_last_tick_age_from_redis(
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    registry: PartitionRegistry,
    rds: redis.Redis,
    redis_url: str,
    namespace: str,
) -> None:
    add_partitions(registry, 2)
    rds.hset(PartitionKeys("p000", namespace).stats, "last_tick_at", str(time.time() - 3.0))
    redis_flags = ["--redis", redis_url, "--namespace", namespace]
    code, out, _ = run(capsys, "partitions", "--json", *redis_flags, *flags)
    assert code == EXIT_OK
    ages = {r["partition"]: r["last_tick_age"] for r in json.loads(out)}
    assert ages["p001"] is None
    assert 2.5 < ages["p000"] < 60
    code, out, _ = run(capsys, "partitions", *redis_flags, *flags)
    lines = out.splitlines()
    assert lines[0].split()[-2:] == ["LAST", "TICK"]
    assert lines[1].endswith("s ago")
    assert lines[2].endswith("-")


def test_partitions_watch_prints_a_report_per_refresh(
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    registry: PartitionRegistry,
    restore_signals: None,
) -> None:
    add_partitions(registry, 2)
    code, out, _ = run(capsys, "partitions", "--json", "--watch", "0.05", "--count", "3", *flags)
    assert code == EXIT_OK
    reports = [json.loads(line) for line in out.splitlines()]
    assert len(reports) == 3
    assert all([r["partition"] for r in report] == ["p000", "p001"] for report in reports)
