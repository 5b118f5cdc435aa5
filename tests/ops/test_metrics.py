"""The metrics a member exports are really updated: ticks, solver time, assignments,
open tasks (dropped with the partition), ownership changes and ZooKeeper LOST events."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis
from kazoo.client import KazooClient
from prometheus_client import REGISTRY

from jarvis.config import Settings
from jarvis.daemon import Daemon
from jarvis.election import PartitionRegistry
from jarvis.store.city import CityStore
from jarvis.store.producer import Producer
from tests.faults import expire_session, wait_for, wait_owned
from tests.store.builders import courier, event, order

CITY = "metrics-city"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _ticked_after_an_assignment(store: CityStore) -> Callable[[], bool]:
    """A condition: Redis has a tick marker after the tick of the first assignment."""

    def check() -> bool:
        decisions = store.decisions(count=100000)
        first = min((d.tick for d in decisions if d.type == "assignment"), default=None)
        return first is not None and any(d.type == "tick" and d.tick > first for d in decisions)

    return check


def _supervisor_caught_up(daemon: Daemon) -> None:
    """Return once the supervisor has handled every message sent to it so far: a call
    through its proxy waits its turn in the same mailbox."""
    daemon.supervisor.proxy().owned().get(timeout=10)


@pytest.fixture
def daemon(zk_hosts: str, redis_url: str, namespace: str, cluster: str) -> Iterator[Daemon]:
    d = Daemon(
        Settings(
            zk=zk_hosts,
            redis=redis_url,
            namespace=namespace,
            cluster=cluster,
            member="m1",
            tick=0.1,
            session_timeout=4.0,
            drain_timeout=10.0,
        )
    )
    yield d
    if not d.stopped.is_set():
        d.stop(graceful=False)


def test_a_member_updates_its_metrics_through_ticks_a_lost_session_and_a_drain(
    daemon: Daemon, zk: KazooClient, rds: redis.Redis, namespace: str, cluster: str
) -> None:
    before = {
        "ticks": _value("jarvis_ticks_total", kind="city"),
        "tick_seconds": _value("jarvis_tick_seconds_count", kind="city"),
        "solve_seconds": _value("jarvis_solve_seconds_count", kind="city"),
        "assignments": _value("jarvis_assignments_total", kind="city"),
        "acquired": _value("jarvis_ownership_changes_total", change="acquired"),
        "released": _value("jarvis_ownership_changes_total", change="released"),
        "lost": _value("jarvis_zookeeper_connection_states_total", state="lost"),
    }
    Producer(rds, namespace).submit_many(
        [
            event(CITY, "courier_online", courier=courier("c1")),
            event(CITY, "order_created", order=order("o1", created_at=time.time())),
            event(CITY, "order_created", order=order("o2", created_at=time.time())),
        ]
    )
    PartitionRegistry(zk, cluster).add(CITY, "city")
    daemon.start()
    store = CityStore(rds, CITY, namespace)
    # The actor runs one tick at a time and updates the metrics of a tick before the
    # next one starts: once Redis has a tick after the assignment's, it was counted.
    wait_for(_ticked_after_an_assignment(store), 15, "a tick after the first assignment")
    _supervisor_caught_up(daemon)
    assert _value("jarvis_assignments_total", kind="city") >= before["assignments"] + 1
    assert REGISTRY.get_sample_value("jarvis_tasks_open", {"partition": CITY}) == 1.0, (
        "one task is left open (one courier for two orders)"
    )
    assert _value("jarvis_ticks_total", kind="city") > before["ticks"]
    assert _value("jarvis_tick_seconds_count", kind="city") > before["tick_seconds"]
    assert _value("jarvis_solve_seconds_count", kind="city") > before["solve_seconds"]
    assert _value("jarvis_partitions_owned") == 1.0
    assert _value("jarvis_ownership_changes_total", change="acquired") == before["acquired"] + 1

    member = daemon.member
    assert member is not None
    epoch = member.owned()[CITY]
    expire_session(member.client)
    # The member handles the LOST event before it can own the partition again.
    wait_owned(member, lambda owned: owned.get(CITY, 0) > epoch, 15, "owned with a new session")
    assert _value("jarvis_zookeeper_connection_states_total", state="lost") == before["lost"] + 1, (
        "the LOST event was counted"
    )
    renewed = member.owned()[CITY]
    wait_for(
        lambda: any(d.type == "tick" and d.epoch == renewed for d in store.decisions(count=100000)),
        15,
        "a tick with the new epoch",
    )
    _supervisor_caught_up(daemon)
    assert _value("jarvis_ownership_changes_total", change="acquired") == before["acquired"] + 2

    assert daemon.stop(graceful=True)
    assert _value("jarvis_ownership_changes_total", change="released") == before["released"] + 1
    assert _value("jarvis_partitions_owned") == 0.0
    assert REGISTRY.get_sample_value("jarvis_tasks_open", {"partition": CITY}) is None, (
        "a partition this member no longer runs still has a gauge"
    )
