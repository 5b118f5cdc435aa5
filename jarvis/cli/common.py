"""What every `jarvis` command shares: exit codes, the argument parser, connection flags,
signals, and clients built with the configured credentials."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

from jarvis.config import Settings, env_name, load_settings

if TYPE_CHECKING:
    from kazoo.client import KazooClient

    from jarvis.store.replication import RedisClient
    from jarvis.store.runner import ScriptRunner

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ArgumentParser",
    "Handler",
    "add_connection_flags",
    "add_leaf_connection_flags",
    "connection_settings",
    "env",
    "on_signals",
    "positive_float",
    "positive_int",
    "redis_for",
    "script_runner",
    "zookeeper",
]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]

CONNECT_TIMEOUT = 10.0

#: Settings the non-daemon commands take from ``JARVIS_*``: credentials and TLS, and the
#: Redis deployment (one node or a Redis Cluster) with the replicas a write must reach.
_CONNECTION_SETTINGS = (
    "zk_auth",
    "zk_auth_file",
    "zk_world_read",
    "redis_username",
    "redis_password",
    "redis_password_file",
    "redis_tls_ca_file",
    "redis_tls_cert_file",
    "redis_tls_key_file",
    "redis_tls_verify",
    "redis_mode",
    "redis_min_replicas",
    "redis_wait_timeout",
)


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but usage errors exit with :data:`EXIT_USAGE` and one clear line, and no
    abbreviated flags (``--zk-auth`` must not quietly mean ``--zk-auth-file``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def add_connection_flags(parser: argparse.ArgumentParser, redis: bool = False) -> None:
    parser.add_argument(
        "--zk",
        default=env("JARVIS_ZK", "127.0.0.1:2181"),
        help="ZooKeeper hosts, host:port[,host:port...] (env JARVIS_ZK)",
    )
    parser.add_argument(
        "--cluster",
        default=env("JARVIS_CLUSTER", "default"),
        help="cluster name: the ZooKeeper root /jarvis/<cluster> (env JARVIS_CLUSTER)",
    )
    parser.add_argument(
        "--zk-auth-file",
        default=None,
        help="file holding the ZooKeeper credentials user:password "
        "(env JARVIS_ZK_AUTH_FILE, or JARVIS_ZK_AUTH with the credentials themselves)",
    )
    if redis:
        parser.add_argument(
            "--redis",
            default=env("JARVIS_REDIS", "redis://127.0.0.1:6379/0"),
            help="Redis URL, redis://[user:password@]host:port/db (env JARVIS_REDIS; "
            "JARVIS_REDIS_USERNAME, JARVIS_REDIS_PASSWORD(_FILE), JARVIS_REDIS_TLS_* apply)",
        )


def add_leaf_connection_flags(parser: argparse.ArgumentParser) -> None:
    """Connection flags on a sub-subcommand, not overriding ones given before it."""
    add_connection_flags(parser)
    for action in parser._actions:  # no default here: the parent command's one stands
        if action.dest in ("zk", "cluster", "zk_auth_file"):
            action.default = argparse.SUPPRESS


def connection_settings(
    args: argparse.Namespace, redis_url: str | None = None, extra: tuple[str, ...] = ()
) -> Settings:
    """Connection settings (and the ``extra`` ones) from ``JARVIS_*`` and the flags
    (ConfigError names the setting). Other settings keep their defaults: these commands
    do not run a member."""
    environ = {
        env_name(n): os.environ[env_name(n)]
        for n in (*_CONNECTION_SETTINGS, *extra)
        if env_name(n) in os.environ
    }
    overrides = {"zk_auth_file": getattr(args, "zk_auth_file", None), "redis": redis_url}
    return load_settings(environ=environ, overrides=overrides)


@contextlib.contextmanager
def zookeeper(args: argparse.Namespace) -> Iterator[KazooClient]:
    """A started kazoo client for ``--zk``, with the configured credentials (its creates
    carry their ACL); ServerError when it cannot connect."""
    from jarvis.connections import zk_auth
    from jarvis.election import connect
    from jarvis.models import check_name

    check_name(args.cluster, "cluster name")
    client = connect(args.zk, zk_auth(connection_settings(args)), CONNECT_TIMEOUT)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def redis_for(args: argparse.Namespace, url: str) -> RedisClient:
    """A Redis client for ``url`` with the configured user, password and TLS."""
    from jarvis.connections import redis_client

    return redis_client(connection_settings(args, url))


def script_runner(args: argparse.Namespace, url: str) -> ScriptRunner:
    """A script runner on a Redis client for ``url`` (close its ``client``): every write
    is confirmed by the replicas the settings ask for (``redis_min_replicas``; 1 in
    ``redis_mode = cluster``), as a member's writes are."""
    from jarvis.connections import redis_client, replication
    from jarvis.store.runner import ScriptRunner

    settings = connection_settings(args, url)
    return ScriptRunner(redis_client(settings), replication=replication(settings))


def on_signals(first: Callable[[], None]) -> None:
    """Call ``first`` on the first SIGTERM or SIGINT; a second one exits at once."""
    seen = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if seen.is_set():
            os._exit(EXIT_INTERRUPTED)
        seen.set()
        log.info("signal %s: stopping (send it again to exit at once)", signum)
        first()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value
