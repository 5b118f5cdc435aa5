"""A member whose ZooKeeper server freezes (SIGSTOP) moves to another server of the ensemble.

With a 10 s session, kazoo alone never leaves a frozen server while the member keeps
sending (its ping deadline is pushed back by every request): the member's watchdog must
leave it after a third of the session timeout, keeping the session, so the member keeps
what it owns. Real three-server ensemble; each test freezes the server its member is on:
an idle member, an owner, a plain client with the finding's traffic, and a member that
has really stepped down (quorum gone) and finds its own server still frozen when the
quorum is back. Each of the member tests fails with the watchdog not started.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient

from jarvis.election import ClusterPaths, Member, MemberOptions, PartitionRegistry
from jarvis.election.watchdog import ConnectionWatchdog, connected_server
from jarvis.testing.servers import ZooKeeperEnsemble, ZooKeeperServer
from tests.election.conftest import FAST, add_partitions
from tests.election.recorder import Recorder, Timeline
from tests.faults import wait_for, wait_owned

SESSION_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeperEnsemble]:
    servers = ZooKeeperEnsemble(Path(tmp_path_factory.mktemp("ensemble")), tick_time_ms=200)
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def admin(ensemble: ZooKeeperEnsemble) -> Iterator[KazooClient]:
    """The test's own client: it may sit on the frozen server too, so it leaves it the
    same way (a watchdog) and retries what the move interrupts (``admin.retry``)."""
    client = KazooClient(
        hosts=ensemble.hosts,
        timeout=SESSION_TIMEOUT,
        command_retry={"max_tries": -1, "deadline": 2 * SESSION_TIMEOUT, "max_delay": 0.5},
    )
    client.start(timeout=30)
    watchdog = ConnectionWatchdog(client, SESSION_TIMEOUT, name="admin")
    watchdog.start()
    try:
        yield client
    finally:
        watchdog.stop()
        client.stop()
        client.close()


@pytest.fixture
def frozen(ensemble: ZooKeeperEnsemble) -> Iterator[list[ZooKeeperServer]]:
    """Servers a test froze; each is continued (and answering again) after the test."""
    paused: list[ZooKeeperServer] = []
    yield paused
    for server in paused:
        ensemble.resume(server)
    for server in paused:
        server.wait_ready()


def _member(
    ensemble: ZooKeeperEnsemble, cluster: str, recorder: Recorder, events: list[str]
) -> Member:
    """A member with 10 s sessions; its connection events are appended to ``events``."""
    options = MemberOptions(
        ensemble.hosts, cluster, recorder.name, "z1", **{**FAST, "session_timeout": SESSION_TIMEOUT}
    )
    member = Member(options, recorder, on_connection=events.append)
    recorder.member = member
    return member


def _session(member: Member) -> int:
    client_id = member.client.client_id
    assert client_id is not None, "the member is not connected"
    session: int = client_id[0]
    return session


def _freeze_its_server(
    ensemble: ZooKeeperEnsemble, session: int, frozen: list[ZooKeeperServer]
) -> ZooKeeperServer:
    server = wait_for(lambda: ensemble.server_of(session), 10, "the member's server is known")
    assert server is not None
    ensemble.pause(server)
    frozen.append(server)
    return server


def _moved(ensemble: ZooKeeperEnsemble, session: int, away_from: ZooKeeperServer) -> bool:
    server = ensemble.server_of(session)
    return server is not None and server is not away_from


def _off(ensemble: ZooKeeperEnsemble, client: KazooClient, server: ZooKeeperServer) -> bool:
    client_id = client.client_id
    return client_id is not None and _moved(ensemble, client_id[0], server)


def test_a_member_owning_nothing_leaves_a_frozen_server_and_keeps_its_session(
    ensemble: ZooKeeperEnsemble, admin: KazooClient, frozen: list[ZooKeeperServer]
) -> None:
    # The finding: a member that owns nothing (as after a step-down) keeps sending
    # heartbeats and reads, which kept kazoo on a frozen server forever.
    cluster = f"c{uuid.uuid4().hex[:8]}"
    timeline = Timeline()
    events: list[str] = []
    member = _member(ensemble, cluster, Recorder("a", timeline), events)
    member.start()
    try:
        session = _session(member)
        server = _freeze_its_server(ensemble, session, frozen)
        wait_for(
            lambda: _moved(ensemble, session, server),
            SESSION_TIMEOUT,
            "the idle member's session moved to another server",
        )
        # Same session, not a new one: its member node is still the one it created.
        stat = admin.retry(admin.exists, ClusterPaths(cluster).member("a"))
        assert stat is not None
        assert stat.ephemeralOwner == session
        # And it is not idle: partitions added now are taken by it.
        wait_for(lambda: _off(ensemble, admin, server), SESSION_TIMEOUT, "the admin moved too")
        add_partitions(PartitionRegistry(admin, cluster), 3)
        wait_owned(member, lambda owned: len(owned) == 3, 15, "a takes the new partitions")
        assert _session(member) == session
        assert "server_left" in events, events
    finally:
        member.stop()


def test_an_owner_leaves_a_frozen_server_and_keeps_its_partitions_and_epochs(
    ensemble: ZooKeeperEnsemble, admin: KazooClient, frozen: list[ZooKeeperServer]
) -> None:
    cluster = f"c{uuid.uuid4().hex[:8]}"
    timeline = Timeline()
    add_partitions(PartitionRegistry(admin, cluster), 4)
    events: list[str] = []
    member = _member(ensemble, cluster, Recorder("a", timeline), events)
    member.start()
    try:
        owned = wait_owned(member, lambda owned: len(owned) == 4, 15, "a owns all 4")
        session = _session(member)
        timeline.wait_heard("a", owned)
        mark = len(timeline.entries())
        server = _freeze_its_server(ensemble, session, frozen)
        wait_for(
            lambda: _moved(ensemble, session, server),
            SESSION_TIMEOUT,
            "the owner's session moved to another server",
        )
        # The member acts through its new server: it hands one partition off, and the
        # owner node it deletes proves ZooKeeper heard it after the move.
        paths = ClusterPaths(cluster)
        handed_off = sorted(owned)[0]
        member.release(handed_off)

        def handed_off_node_gone_or_renewed() -> bool:
            stat = admin.retry(admin.exists, paths.owner(handed_off))
            return stat is None or stat.czxid > owned[handed_off]

        wait_for(handed_off_node_gone_or_renewed, 10, "a deleted its owner node of the handoff")
        for partition, epoch in owned.items():
            if partition != handed_off:
                stat = admin.retry(admin.exists, paths.owner(partition))
                assert stat is not None, partition
                assert stat.czxid == epoch, partition
                assert member.owned()[partition] == epoch
        calls = {e.call for e in timeline.entries()[mark:]}
        assert not calls & {"lost", "suspended"}, "no step-down, no pause: " + repr(calls)
        assert _session(member) == session
        assert "stepped_down" not in events, events
        assert "server_left" in events, events
    finally:
        member.stop()


def test_a_client_sending_every_half_second_leaves_a_frozen_server_and_puts_it_last(
    ensemble: ZooKeeperEnsemble, frozen: list[ZooKeeperServer]
) -> None:
    # The finding's traffic without a member: reads every 0.5 s, each bounded by T/6,
    # keep kazoo's own ping from ever being sent. The watchdog alone moves the client.
    client = KazooClient(hosts=ensemble.hosts, timeout=SESSION_TIMEOUT)
    client.start(timeout=30)
    moved = threading.Event()
    watchdog = ConnectionWatchdog(client, SESSION_TIMEOUT, on_drop=lambda _: moved.set())
    watchdog.start()
    reading = threading.Event()

    def reads() -> None:
        while not reading.is_set():
            with contextlib.suppress(Exception):
                client.exists_async("/").get(timeout=SESSION_TIMEOUT / 6)
            reading.wait(0.5)

    reader = threading.Thread(target=reads, daemon=True)
    reader.start()
    try:
        server_address = connected_server(client)
        assert server_address is not None
        session = client.client_id[0]
        server = _freeze_its_server(ensemble, session, frozen)
        assert server.port == server_address[1]
        assert moved.wait(SESSION_TIMEOUT), "the watchdog never left the frozen server"
        assert watchdog.drops == [server_address]
        # The frozen server goes last, so the next connection attempts try the others.
        assert client.hosts[-1] == ("127.0.0.1", server.port)
        wait_for(lambda: _moved(ensemble, session, server), SESSION_TIMEOUT, "same session moved")
    finally:
        reading.set()
        reader.join()
        watchdog.stop()
        client.stop()
        client.close()


def test_a_stepped_down_member_leaves_its_frozen_server_and_takes_its_partitions_back(
    ensemble: ZooKeeperEnsemble, admin: KazooClient, frozen: list[ZooKeeperServer]
) -> None:
    # The finding itself: the member has stepped down (here because the quorum was gone
    # for two thirds of its session timeout), and when the quorum comes back its own
    # server is still frozen. It must leave it and take its partitions back.
    cluster = f"c{uuid.uuid4().hex[:8]}"
    timeline = Timeline()
    events: list[str] = []
    add_partitions(PartitionRegistry(admin, cluster), 3)
    member = _member(ensemble, cluster, Recorder("a", timeline), events)
    member.start()
    try:
        owned = wait_owned(member, lambda owned: len(owned) == 3, 15, "a owns all 3")
        session = _session(member)
        own_server = _freeze_its_server(ensemble, session, frozen)
        other = next(s for s in ensemble.servers if s is not own_server)
        ensemble.pause(other)  # the third server alone has no quorum
        frozen.append(other)
        wait_owned(member, lambda owned: not owned, SESSION_TIMEOUT, "a stepped down")
        assert "stepped_down" in events, events
        ensemble.resume(other)  # the quorum is back; a's own server stays frozen
        frozen.remove(other)
        back = wait_owned(
            member, lambda owned: len(owned) == 3, 3 * SESSION_TIMEOUT, "a owns all 3 again"
        )
        assert ensemble.server_of(session) not in (None, own_server)
        # The same session came back before it could expire: the same owner nodes, so
        # the same epochs, and nobody else owned anything meanwhile.
        assert _session(member) == session
        assert back == owned
        assert timeline.double_ownership() == []
    finally:
        member.stop()
