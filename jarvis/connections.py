"""Clients built from :class:`~jarvis.config.Settings`, with their credentials and TLS.

The daemon and the CLI connect through these functions, so both honour the same
settings: ZooKeeper digest credentials and ACLs (``zk_auth``, ``zk_auth_file``,
``zk_world_read``), the Redis ACL user, password and TLS options (``redis_*``), the Redis
deployment (``redis_mode``: one node, or a Redis Cluster found from one seed node) and
how many replicas confirm each acknowledged write (``redis_min_replicas``,
``redis_wait_timeout``). Secrets are read here, at connect time, and never logged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from jarvis.config import Settings
from jarvis.election import ZkAuth
from jarvis.store.replication import RedisClient, Replication
from jarvis.store.work.ranking import RankingWeights

__all__ = ["ranking_weights", "redis_client", "replication", "zk_auth"]

#: Seconds a Redis call waits for a free connection of the pool before it fails.
_POOL_WAIT = 10.0


def zk_auth(settings: Settings) -> ZkAuth | None:
    """The ZooKeeper credentials and ACL of ``settings``, or None (no auth, open ACL)."""
    credentials = settings.zk_credentials()
    if credentials is None:
        return None
    return ZkAuth.parse(credentials, world_read=settings.zk_world_read)


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def replication(settings: Settings) -> Replication:
    """How many replicas must confirm a write before Jarvis acknowledges it."""
    return Replication(settings.min_replicas, settings.redis_wait_timeout)


def ranking_weights(settings: Settings) -> RankingWeights:
    """The weights and windows of the store ranking's need score (``ranking_*``)."""
    return RankingWeights(
        work_weight=settings.ranking_work_weight,
        associate_weight=settings.ranking_associate_weight,
        throughput_weight=settings.ranking_throughput_weight,
        presence_s=settings.ranking_presence_s,
        throughput_s=settings.ranking_throughput_s,
    )


def redis_client(
    settings: Settings, *, decode_responses: bool = True, client_name: str | None = None
) -> RedisClient:
    """A Redis client for ``settings.redis`` with the configured user, password and TLS.

    With ``redis_mode = "cluster"`` a :class:`redis.RedisCluster` that discovers the
    cluster from the URL's node and routes each command to the primary of its slot.
    Every command fails after ``redis_timeout`` seconds instead of hanging on a frozen
    node.

    ``redis_username`` and ``redis_password`` (or its file) replace the URL's user and
    password. With a ``rediss://`` URL the certificate is verified against
    ``redis_tls_ca_file`` (or the system's CAs) unless ``redis_tls_verify`` is off, and
    ``redis_tls_cert_file``/``redis_tls_key_file`` present a client certificate. The
    pool holds at most ``redis_max_connections``; a call waits for a free one.
    ``client_name`` names every connection (``CLIENT SETNAME``, seen in ``CLIENT LIST``).
    """
    url = settings.redis
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
    }
    if client_name is not None:
        options["client_name"] = client_name
    password = settings.redis_password_value()
    if settings.redis_username is not None or password is not None:
        parsed = urlsplit(url)
        options["username"] = settings.redis_username or parsed.username
        options["password"] = password if password is not None else parsed.password
        url = _without_userinfo(url)  # from_url lets the URL's credentials win
    if url.startswith("rediss://"):
        verify = settings.redis_tls_verify
        options["ssl_cert_reqs"] = "required" if verify else "none"
        options["ssl_check_hostname"] = verify
        if settings.redis_tls_ca_file is not None:
            options["ssl_ca_certs"] = str(settings.redis_tls_ca_file)
        if settings.redis_tls_cert_file is not None:
            options["ssl_certfile"] = str(settings.redis_tls_cert_file)
        if settings.redis_tls_key_file is not None:
            options["ssl_keyfile"] = str(settings.redis_tls_key_file)
    if settings.redis_mode == "cluster":
        # One pool per node; tick_workers < redis_max_connections keeps ticks within it.
        return redis.RedisCluster.from_url(
            url,
            decode_responses=decode_responses,
            max_connections=settings.redis_max_connections,
            **options,
        )
    # A blocking pool: a call that finds every connection busy waits for one (up to
    # _POOL_WAIT seconds) rather than failing with "Too many connections".
    pool = redis.BlockingConnectionPool.from_url(
        url,
        decode_responses=decode_responses,
        max_connections=settings.redis_max_connections,
        timeout=_POOL_WAIT,
        **options,
    )
    return redis.Redis.from_pool(pool)
