"""`jarvis freeze`, `unfreeze` and `move`: what they change in ZooKeeper, what the
listings show, and exit code 2 with a message for unknown partitions, members, zones."""

from __future__ import annotations

import json

import pytest
from kazoo.client import KazooClient

from jarvis.cli.main import EXIT_OK, EXIT_USAGE
from jarvis.election import ClusterView, MoveRequest, PartitionRegistry, PlacementControls
from tests.election.conftest import Spawn, add_partitions, balanced
from tests.election.test_cli import run
from tests.faults import wait_for


@pytest.fixture
def flags(zk_hosts: str, cluster: str) -> list[str]:
    return ["--zk", zk_hosts, "--cluster", cluster]


def test_freeze_and_unfreeze_show_in_partitions_and_members(
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
    zk: KazooClient,
    cluster: str,
) -> None:
    add_partitions(registry, 2)
    spawn("a", "z1", recorded=False)
    wait_for(lambda: balanced(view, {"a": 2}), 15, "a owns both partitions")
    code, out, _ = run(capsys, "freeze", "--reason", "incident 42", *flags)
    assert code == EXIT_OK
    assert "frozen" in out
    assert PlacementControls(zk, cluster).read().frozen
    code, out, _ = run(capsys, "partitions", *flags)
    assert code == EXIT_OK
    assert "FROZEN since" in out
    assert "incident 42" in out
    code, out, _ = run(capsys, "members", *flags)
    assert code == EXIT_OK
    assert "FROZEN since" in out
    code, out, _ = run(capsys, "members", "--json", *flags)
    assert [m["frozen"] for m in json.loads(out)] == [True]
    code, out, _ = run(capsys, "freeze", *flags)  # again: keeps the first reason
    assert code == EXIT_OK
    assert PlacementControls(zk, cluster).read().reason == "incident 42"

    code, out, _ = run(capsys, "unfreeze", *flags)
    assert code == EXIT_OK
    assert not PlacementControls(zk, cluster).read().frozen
    code, out, _ = run(capsys, "partitions", "--json", *flags)
    assert [p["frozen"] for p in json.loads(out)] == [False, False]
    code, out, _ = run(capsys, "partitions", *flags)
    assert "FROZEN" not in out


def test_move_waits_until_the_partition_is_on_the_member_or_zone(
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    spawn: Spawn,
    registry: PartitionRegistry,
    view: ClusterView,
) -> None:
    add_partitions(registry, 1)
    spawn("a", "z1", recorded=False)
    spawn("b", "z2", recorded=False)
    wait_for(lambda: view.partitions()[0].owner, 15, "p000 owned")
    (row,) = view.partitions()
    other = "b" if row.owner == "a" else "a"
    code, out, err = run(capsys, "move", "p000", "--to", other, "--timeout", "20", *flags)
    assert code == EXIT_OK, err
    assert f"p000 is on member {other}" in out
    (row,) = view.partitions()
    assert row.owner == other
    assert row.moving_to is None
    back = "z1" if other == "b" else "z2"
    code, out, err = run(capsys, "move", "p000", "--zone", back, "--timeout", "20", *flags)
    assert code == EXIT_OK, err
    assert view.partitions()[0].zone == back
    code, out, _ = run(capsys, "move", "p000", "--zone", back, *flags)
    assert code == EXIT_OK
    assert "already on zone" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["move", "nope", "--to", "a"], "no such partition 'nope'"),
        (["move", "p000", "--to", "ghost"], "no live, non-draining member 'ghost'"),
        (["move", "p000", "--zone", "mars"], "no live, non-draining member in zone 'mars'"),
        (["move", "p000", "--to", "bad name!"], "member id"),
        (["move", "p000"], "one of the arguments --to --zone is required"),
        (["move", "p000", "--to", "a", "--zone", "z1"], "not allowed with argument"),
    ],
)
def test_move_with_unknown_targets_exits_2_with_a_message(
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    spawn: Spawn,
    registry: PartitionRegistry,
    zk: KazooClient,
    cluster: str,
    argv: list[str],
    message: str,
) -> None:
    add_partitions(registry, 1)
    spawn("a", "z1", recorded=False)
    code, _, err = run(capsys, *argv, *flags)
    assert code == EXIT_USAGE
    assert message in err
    assert PlacementControls(zk, cluster).read().moves == {}


def test_a_malformed_pin_is_refused_when_the_partition_is_added(
    capsys: pytest.CaptureFixture[str], flags: list[str]
) -> None:
    config = json.dumps({"pin": {"member": "a", "zone": "z1"}})
    code, _, err = run(capsys, "partitions", "add", "p1", "city", "--config", config, *flags)
    assert code == EXIT_USAGE
    assert "invalid pin" in err


def test_partitions_show_pins_and_pending_moves(
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    registry: PartitionRegistry,
    zk: KazooClient,
    cluster: str,
) -> None:
    registry.add("p1", "city", {"pin": {"zone": "z9"}})
    registry.add("p2", "city")
    code, out, _ = run(capsys, "partitions", *flags)
    assert code == EXIT_OK
    header, first, second = out.splitlines()[:3]
    assert header.split()[-4:] == ["SINCE", "PIN", "MOVING", "TO"]
    assert first.split()[-2:] == ["z9", "-"]  # "zone z9", no move
    assert second.split()[-2:] == ["-", "-"]
    PlacementControls(zk, cluster).request_move("p2", MoveRequest(member="m", requested_at=1.0))
    code, out, _ = run(capsys, "partitions", "--json", *flags)
    rows = {r["partition"]: r for r in json.loads(out)}
    assert (rows["p1"]["pin"], rows["p1"]["moving_to"]) == ("zone z9", None)
    assert (rows["p2"]["pin"], rows["p2"]["moving_to"]) == (None, "member m")
