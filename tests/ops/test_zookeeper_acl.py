"""With ZooKeeper credentials, Jarvis's nodes carry ACLs: a client without them (or with
other ones) can change, delete or create nothing, and read nothing unless world_read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError

from jarvis.cli.main import EXIT_FAILURE, EXIT_OK, main
from jarvis.election import (
    ClusterPaths,
    ClusterView,
    Member,
    MemberOptions,
    PartitionRegistry,
    ZkAuth,
    connect,
)
from jarvis.errors import ElectionError
from tests.faults import wait_owned


def _oslo(owned: dict[str, int]) -> bool:
    return "oslo" in owned


def _member(zk_hosts: str, cluster: str, auth: ZkAuth) -> Member:
    return Member(
        MemberOptions(
            zk_hosts,
            cluster,
            "m1",
            "z1",
            auth_data=tuple(auth.auth_data),
            default_acl=tuple(auth.acl),
            session_timeout=3.0,
            rebalance_interval=0.2,
            settle_delay=0.1,
        )
    )


@pytest.fixture
def member(zk_hosts: str, cluster: str, auth: ZkAuth, admin: KazooClient) -> Iterator[Member]:
    PartitionRegistry(admin, cluster).add("oslo", "city")
    m = _member(zk_hosts, cluster, auth)
    m.start()
    yield m
    m.stop()


def test_a_client_without_credentials_cannot_change_delete_or_read_an_owner_node(
    member: Member, stranger: KazooClient, zk_hosts: str, cluster: str
) -> None:
    epoch = wait_owned(member, _oslo, 10, "m1 owns oslo")["oslo"]
    paths = ClusterPaths(cluster)
    impostor = connect(zk_hosts, ZkAuth.parse("jarvis:wrong-password"), 15.0)
    try:
        for client in (stranger, impostor):
            owner = paths.owner("oslo")
            with pytest.raises(NoAuthError):
                client.set(owner, b'{"member": "intruder", "zone": "x", "acquired_at": 0}')
            with pytest.raises(NoAuthError):
                client.delete(owner)
            with pytest.raises(NoAuthError):
                client.get(owner)
            with pytest.raises(NoAuthError):
                client.get_children(paths.partitions)
            with pytest.raises(NoAuthError):
                client.create(paths.partition("intruder"), b'{"kind": "city"}')
            with pytest.raises(NoAuthError):
                client.delete(paths.member("m1"))
            with pytest.raises(NoAuthError):
                client.get(paths.member("m1"))
            with pytest.raises(NoAuthError):
                client.create(paths.drain("m1"), b"{}")
    finally:
        impostor.stop()
        impostor.close()
    assert member.owned() == {"oslo": epoch}, "the member kept its ownership"


def test_every_node_jarvis_creates_carries_only_the_digest_acl(
    member: Member, admin: KazooClient, cluster: str
) -> None:
    wait_owned(member, _oslo, 10, "m1 owns oslo")
    paths = ClusterPaths(cluster)
    created = [
        "/jarvis",
        paths.root,
        paths.members,
        paths.member("m1"),
        paths.partitions,
        paths.partition("oslo"),
        paths.owner("oslo"),
    ]
    for path in created:
        assert _acl(admin, path) == [("digest", "jarvis", 31)], path  # 31: every permission
    ClusterView(admin, cluster).request_drain("m1", 0.0)  # the drain releases oslo
    assert _acl(admin, paths.drain("m1")) == [("digest", "jarvis", 31)]


def _acl(client: KazooClient, path: str) -> list[tuple[str, str, int]]:
    acls, _ = client.get_acls(path)
    return [(a.id.scheme, a.id.id.split(":")[0], a.perms) for a in acls]


def test_world_read_lets_anyone_read_ownership_but_change_nothing(
    zk_hosts: str, cluster: str, admin: KazooClient, stranger: KazooClient
) -> None:
    auth = ZkAuth.parse("jarvis:s3cret-zk", world_read=True)
    operator = connect(zk_hosts, auth, 15.0)  # what `jarvis partitions add` does
    try:
        PartitionRegistry(operator, cluster).add("oslo", "city")
    finally:
        operator.stop()
        operator.close()
    m = _member(zk_hosts, cluster, auth)
    m.start()
    try:
        wait_owned(m, _oslo, 10, "m1 owns oslo")
        view = ClusterView(stranger, cluster)
        assert [(r.partition, r.owner) for r in view.partitions()] == [("oslo", "m1")]
        with pytest.raises(NoAuthError):
            stranger.set(ClusterPaths(cluster).owner("oslo"), b"{}")
        with pytest.raises(ElectionError, match="NoAuth"):
            view.request_drain("m1", 0.0)
        assert m.owned().keys() == {"oslo"}
    finally:
        m.stop()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_uses_the_credentials_from_the_environment_or_a_file(
    member: Member,
    zk_hosts: str,
    cluster: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    wait_owned(member, _oslo, 10, "m1 owns oslo")
    flags = ["--zk", zk_hosts, "--cluster", cluster]

    code, _, err = _cli(capsys, "partitions", *flags)
    assert code == EXIT_FAILURE, err
    assert "NoAuth" in err

    monkeypatch.setenv("JARVIS_ZK_AUTH", "jarvis:s3cret-zk")
    code, out, err = _cli(capsys, "partitions", "--json", *flags)
    assert code == EXIT_OK, err
    assert [(r["partition"], r["owner"]) for r in json.loads(out)] == [("oslo", "m1")]
    code, _, err = _cli(capsys, "partitions", "add", "bergen", "city", *flags)
    assert code == EXIT_OK, err
    wait_owned(member, lambda owned: "bergen" in owned, 10, "m1 took the partition the CLI added")

    monkeypatch.delenv("JARVIS_ZK_AUTH")
    secret = tmp_path / "zk-auth"
    secret.write_text("jarvis:s3cret-zk\n")
    code, out, err = _cli(capsys, "members", "--json", "--zk-auth-file", str(secret), *flags)
    assert code == EXIT_OK, err
    assert [(r["member"], r["partitions"]) for r in json.loads(out)] == [("m1", 2)]
