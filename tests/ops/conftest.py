"""Fixtures for the operability tests: ZooKeeper credentials and clients with and
without them, and a cleanup that can delete what those credentials protect."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from jarvis.election import ZkAuth, connect

CREDENTIALS = "jarvis:s3cret-zk"


@pytest.fixture
def cluster() -> str:
    return f"c{uuid.uuid4().hex[:8]}"


@pytest.fixture
def auth() -> ZkAuth:
    return ZkAuth.parse(CREDENTIALS)


@pytest.fixture
def admin(zk_hosts: str, auth: ZkAuth) -> Iterator[KazooClient]:
    """A client with the credentials. Afterwards it deletes ``/jarvis``: the chroot's own
    cleanup has no credentials, and ACL-protected nodes would stop it."""
    client = connect(zk_hosts, auth, 15.0)
    try:
        yield client
    finally:
        client.delete("/jarvis", recursive=True)
        client.stop()
        client.close()


@pytest.fixture
def stranger(zk_hosts: str) -> Iterator[KazooClient]:
    """A client without credentials."""
    client = connect(zk_hosts, None, 15.0)
    try:
        yield client
    finally:
        client.stop()
        client.close()
