"""Who may touch a cluster's nodes: ZooKeeper digest credentials and the ACLs they imply.

With credentials ``user:password``, every node Jarvis creates (the ``/jarvis/<cluster>``
tree: members, partitions, owner nodes, drain requests) carries the ACL "``user`` may do
everything"; a client without the credentials can then change, create or delete nothing,
and read nothing either, unless ``world_read`` adds "anyone may read" (handy for a
monitoring client that only runs ``jarvis partitions``). Every client that writes, members
and the CLI alike, authenticates with the same credentials: ZooKeeper checks the digest,
so two clients with different users lock each other out.

Nodes created before credentials were configured keep their open ACL; see the runbook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import ACL, make_acl, make_digest_acl

from jarvis.errors import ConfigError, ServerError

__all__ = ["ZkAuth", "connect"]


@dataclass(frozen=True, slots=True)
class ZkAuth:
    """Digest credentials, and whether clients without them may read."""

    user: str
    password: str = field(repr=False)
    world_read: bool = False

    @classmethod
    def parse(cls, credentials: str, world_read: bool = False) -> ZkAuth:
        """``user:password`` -> ZkAuth; ConfigError (without the secret) if malformed."""
        user, sep, password = credentials.partition(":")
        if not sep or not user or not password:
            raise ConfigError("ZooKeeper credentials: expected user:password")
        return cls(user, password, world_read)

    @property
    def auth_data(self) -> list[tuple[str, str]]:
        """For ``KazooClient(auth_data=...)``."""
        return [("digest", f"{self.user}:{self.password}")]

    @property
    def acl(self) -> list[ACL]:
        """For ``KazooClient(default_acl=...)``: the ACL of every node Jarvis creates."""
        acl = [make_digest_acl(self.user, self.password, all=True)]
        if self.world_read:
            acl.append(make_acl("world", "anyone", read=True))
        return acl

    def client_kwargs(self) -> dict[str, Any]:
        return {"auth_data": self.auth_data, "default_acl": self.acl}


def connect(hosts: str, auth: ZkAuth | None, timeout: float) -> KazooClient:
    """A started kazoo client, authenticated with ``auth`` (its creates carry its ACL).

    ConfigError for bad hosts; ServerError when ZooKeeper cannot be reached or refuses
    the credentials.
    """
    try:
        client = KazooClient(hosts=hosts, timeout=timeout, **(auth.client_kwargs() if auth else {}))
    except (ValueError, KazooException) as exc:
        raise ConfigError(f"invalid ZooKeeper hosts {hosts!r}: {exc}") from exc
    try:
        client.start(timeout=timeout)
    except (KazooTimeoutError, KazooException) as exc:
        client.close()
        raise ServerError(f"ZooKeeper at {hosts}: {exc!r}") from exc
    return client
