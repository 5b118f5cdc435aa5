"""`jarvis replay` against a real Redis: a city's recorded stream under two settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from kazoo.client import KazooClient

from jarvis.cli import main
from jarvis.election import PartitionRegistry
from jarvis.models import Courier, Order, Point
from jarvis.sim import recorded_day
from jarvis.store.keys import PartitionKeys
from jarvis.store.producer import Producer

AT = 1_767_614_400.0  # 2026-01-05 12:00 UTC


def _order(oid: str, created: float, dx: float) -> Order:
    return Order(
        id=oid,
        pickup=Point(lat=48.85, lon=2.35),
        dropoff=Point(lat=48.85 + dx, lon=2.36),
        created_at=created,
        ready_at=created + 600.0,
    )


def _record(rds: redis.Redis, namespace: str, city: str) -> None:
    def event(n: int, kind: str, at: float, **fields: object) -> dict[str, object]:
        return {"id": f"e{n}", "partition": city, "at": at, "type": kind, **fields}

    couriers = [
        Courier(id=f"c{i}", position=Point(lat=48.85 + 0.003 * i, lon=2.35), capacity=2)
        for i in range(2)
    ]
    events = [
        event(i, "courier_online", AT, courier=c.model_dump()) for i, c in enumerate(couriers)
    ]
    orders = [_order(f"o{i}", AT + 60.0 * i, 0.004 * i) for i in range(3)]
    events += [
        event(10 + i, "order_created", o.created_at, order=o.model_dump())
        for i, o in enumerate(orders)
    ]
    events.append(event(20, "order_cancelled", AT + 200.0, order_id="o2"))
    events.append(event(21, "order_picked_up", AT + 900.0, order_id="o0"))
    events.append(event(22, "courier_offline", AT + 7200.0, courier_id="c1"))
    Producer(rds, namespace).submit_many(events)
    rds.xadd(PartitionKeys(city, namespace).events_in, {"event": b"not json"})


def test_a_recorded_stream_becomes_a_day(rds: redis.Redis, namespace: str) -> None:
    _record(rds, namespace, "rome")
    day = recorded_day(rds, "rome", namespace)
    assert [o.id for o in day.orders] == ["o0", "o1", "o2"]
    assert dict(day.cancels) == {"o2": AT + 200.0}
    assert [(s.courier.id, s.start, s.end) for s in day.shifts] == [
        ("c0", AT, day.end),
        ("c1", AT, AT + 7200.0),
    ]


def test_replay_prints_baseline_and_config_side_by_side(
    rds: redis.Redis, redis_url: str, namespace: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _record(rds, namespace, "rome")
    config = tmp_path / "greedy.yaml"
    config.write_text("policy: greedy\ntick_s: 10\n")
    argv = ["replay", "rome", "--config", str(config), "--redis", redis_url]
    assert main([*argv, "--namespace", namespace, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    for name in ("baseline", "config"):
        figures = document["runs"][name]
        assert (figures["orders"], figures["cancelled"], figures["delivered"]) == (2, 1, 2)
    assert main([*argv, "--namespace", namespace]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["KPI", "baseline", "config", "vs", "baseline"]


def test_replay_of_a_city_without_orders_exits_2(
    redis_url: str, namespace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.json"
    config.write_text("{}")
    argv = ["replay", "nowhere", "--config", str(config), "--redis", redis_url]
    assert main([*argv, "--namespace", namespace]) == 2
    assert "no order_created event" in capsys.readouterr().err
    assert main(["replay", "bad city", "--config", str(config), "--redis", redis_url]) == 2


def test_the_cluster_baseline_is_the_city_as_registered_in_zookeeper(
    rds: redis.Redis, redis_url: str, namespace: str, zk_hosts: str, zk: KazooClient,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _record(rds, namespace, "rome")
    PartitionRegistry(zk, "sim").add("rome", "city", {"promise_s": 1500, "reassign_max": 1})
    config = tmp_path / "other.yaml"
    config.write_text("city: {promise_s: 2400}\n")
    argv = ["replay", "rome", "--config", str(config), "--redis", redis_url]
    argv += ["--namespace", namespace, "--zk", zk_hosts, "--cluster", "sim"]
    assert main([*argv, "--cluster-baseline", "--json"]) == 0
    settings = json.loads(capsys.readouterr().out)["settings"]
    assert settings["baseline"]["city"]["promise_s"] == 1500
    assert settings["baseline"]["city"]["reassign_max"] == 1
    assert settings["config"]["city"]["promise_s"] == 2400
    assert main(["replay", "milan", *argv[2:], "--cluster-baseline"]) == 2
    assert "not a city registered" in capsys.readouterr().err


def test_a_stream_longer_than_one_read_is_read_whole(rds: redis.Redis, namespace: str) -> None:
    orders = [_order(f"o{i}", AT + i, 0.001) for i in range(1205)]
    events = [
        {"id": f"e{i}", "partition": "oslo", "at": o.created_at, "type": "order_created",
         "order": o.model_dump()}
        for i, o in enumerate(orders)
    ]  # fmt: skip
    Producer(rds, namespace).submit_many(events)
    day = recorded_day(rds, "oslo", namespace)
    assert [o.id for o in day.orders] == [o.id for o in orders]
    assert day.shifts == ()
