"""The settings of a Jarvis member: every one with its default, variable and description
(see :mod:`jarvis.config`)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from jarvis.errors import ConfigError
from jarvis.secrets import MASK, check_digest, mask_url, read_secret, split_tokens

__all__ = [
    "CLI_VARIABLES",
    "ENV_PREFIX",
    "MASK",
    "MAX_PARTITIONS",
    "SECRETS",
    "Settings",
    "env_name",
    "mask_url",
    "read_file_setting",
]

ENV_PREFIX = "JARVIS_"
#: Default of ``max_partitions``: idle partitions one member ticks on time at a 1 s
#: tick. ``python -m bench bench_capacity`` (2026-11-26: idle ticks one round trip, run
#: on the scheduler's workers, their checks pipelined) measured 1,000 partitions at
#: 99.6 % of due ticks while the member got 0.35 of a core (about 2,800 idle ticks per
#: CPU-second; machine load average 8.8 on 2 cores), and 2,000 at 93-102 % depending on
#: the load. A member's Python runs on one core at most (the GIL), busy partitions cost
#: several idle ones, and the HTTP interface shares that core: 1,000 keeps headroom
#: (docs/benchmarks.md, "Capacity of one member").
MAX_PARTITIONS = 1000
#: Bearer tokens shorter than this are refused (guessable).
MIN_TOKEN_LENGTH = 16

#: Settings whose values are secrets (masked by :meth:`Settings.redacted`).
SECRETS = frozenset({"zk_auth", "redis_password", "http_tokens"})
#: ``JARVIS_*`` variables the CLI reads that are not settings.
CLI_VARIABLES = frozenset({"JARVIS_CONFIG", "JARVIS_DEMO_DURATION", "JARVIS_API_WORKERS"})


def env_name(setting: str) -> str:
    """The environment variable of a setting: ``zk_auth`` -> ``JARVIS_ZK_AUTH``."""
    return ENV_PREFIX + setting.upper()


def _default_member() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseModel):
    """The settings of one member. Field descriptions are the documentation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- where ------------------------------------------------------------------
    zk: str = Field("127.0.0.1:2181", description="ZooKeeper hosts, host:port[,host:port...]")
    zk_auth: SecretStr | None = Field(
        None,
        description="ZooKeeper digest credentials user:password; Jarvis's nodes then "
        "carry ACLs that only this user may change (secret)",
    )
    zk_auth_file: Path | None = Field(
        None, description="file whose first line is zk_auth (instead of zk_auth)"
    )
    zk_world_read: bool = Field(
        False,
        description="with zk_auth: clients without credentials may read (never change) "
        "Jarvis's nodes; off: they can read nothing",
    )
    redis: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis URL (redis://, rediss:// for TLS, or unix://); may carry user:password",
    )
    redis_username: str | None = Field(
        None, min_length=1, description="Redis ACL user (overrides the URL's)"
    )
    redis_password: SecretStr | None = Field(
        None, description="Redis password (overrides the URL's) (secret)"
    )
    redis_password_file: Path | None = Field(
        None, description="file whose first line is the Redis password"
    )
    redis_tls_ca_file: Path | None = Field(
        None, description="CA bundle that signed Redis's certificate (rediss:// only)"
    )
    redis_tls_cert_file: Path | None = Field(
        None, description="client certificate for Redis mutual TLS (rediss:// only)"
    )
    redis_tls_key_file: Path | None = Field(
        None, description="private key of redis_tls_cert_file (rediss:// only)"
    )
    redis_tls_verify: bool = Field(
        True, description="verify Redis's certificate and host name (rediss:// only)"
    )
    redis_mode: Literal["standalone", "cluster"] = Field(
        "standalone",
        description="standalone: one Redis (with or without replicas); cluster: a Redis "
        "Cluster, the URL naming one seed node (the client discovers the rest)",
    )
    redis_min_replicas: int | None = Field(
        None,
        ge=0,
        le=16,
        description="replicas a write must reach (WAIT) before Jarvis acknowledges it "
        "(unset: 1 in cluster mode, 0 in standalone mode)",
    )
    redis_wait_timeout: float = Field(
        1.0,
        gt=0.0,
        le=60.0,
        description="seconds a write waits for its replicas; past that its outcome is "
        "unknown (HTTP 503, the owner re-reads its state)",
    )
    redis_timeout: float = Field(
        5.0,
        gt=0.0,
        le=300.0,
        description="seconds a Redis command may take before it fails (a frozen node "
        "must not hang a member)",
    )
    redis_max_connections: int = Field(
        64,
        ge=2,
        le=10000,
        description="Redis connections of the member's pool; a call waits for a free one",
    )
    cluster: str = Field(
        "default", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="cluster name in ZooKeeper"
    )
    namespace: str = Field(
        "jarvis", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="prefix of every Redis key"
    )
    zone: str = Field(
        "local", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="availability zone of this member"
    )
    member: str = Field(
        default_factory=_default_member,
        pattern=r"^[A-Za-z0-9_.@-]{1,128}$",
        description="member id (default: host-pid)",
    )
    member_version: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.+-]{1,64}$",
        description="version this member announces (unset: the package's); while several "
        "are live, free partitions go to the newest (rolling deploys)",
    )
    # --- timing -----------------------------------------------------------------
    tick: float = Field(1.0, gt=0.0, le=60.0, description="seconds between two ticks")
    session_timeout: float = Field(
        10.0, ge=1.0, le=120.0, description="ZooKeeper session timeout, seconds"
    )
    drain_timeout: float = Field(
        30.0, gt=0.0, le=600.0, description="seconds a graceful stop waits for handoffs"
    )
    max_moves_per_interval: int = Field(
        4, ge=1, le=10000, description="partitions a member may give up per rebalance interval"
    )
    rebalance_interval: float = Field(
        1.0, gt=0.0, le=60.0, description="seconds between two rebalancing passes"
    )
    tick_workers: int = Field(
        4,
        ge=1,
        le=1000,
        description="ticks run at once, each with one Redis connection (< redis_max_connections)",
    )
    max_partitions: int = Field(
        MAX_PARTITIONS,
        ge=1,
        le=1000000,
        description="most partitions this member takes; what no member can take stays unowned",
    )
    balance_weights: Literal["config", "measured"] = Field(
        "config",
        description="what balance weighs a partition by: config (its config's weight, else 1) "
        "or measured (its open tasks, smoothed; a config weight still wins)",
    )
    weight_unit: float = Field(
        100.0, gt=0.0, le=1e6, description="open tasks per unit of measured weight"
    )
    claim_ttl: float = Field(60.0, gt=0.0, le=86400.0, description="work claim lease, seconds")
    work_max_attempts: int = Field(
        25,
        ge=1,
        le=1000,
        description="claims a work item may have before a lapse or release sends it to the "
        "store's dead set (an item's own max_attempts wins)",
    )
    ranking_work_weight: float = Field(
        1.0,
        ge=0.0,
        le=1e6,
        description="store ranking: weight of a store's urgency-weighted queued work",
    )
    ranking_associate_weight: float = Field(
        2.0,
        ge=0.0,
        le=1e6,
        description="store ranking: weight of each associate present at the store",
    )
    ranking_throughput_weight: float = Field(
        1.0,
        ge=0.0,
        le=1e6,
        description="store ranking: weight of the store's completions per minute",
    )
    ranking_presence_s: float = Field(
        600.0,
        gt=0.0,
        le=3600.0,
        description="store ranking: seconds an associate counts as present after it last asked "
        "for work at its home store, claimed or heartbeated there",
    )
    ranking_throughput_s: float = Field(
        900.0,
        gt=0.0,
        le=3600.0,
        description="store ranking: seconds of completions the throughput is measured over",
    )
    rules: Path | None = Field(None, description="TOML rules file (eligibility)")
    # --- HTTP -------------------------------------------------------------------
    http: str | None = Field(
        None, description="HOST:PORT the HTTP interface listens on (unset: no HTTP)"
    )
    http_tokens: tuple[SecretStr, ...] = Field(
        (),
        description="bearer tokens accepted by endpoints that change state, comma-separated "
        "(empty: those endpoints need no token) (secret)",
    )
    http_tokens_file: Path | None = Field(
        None, description="file of bearer tokens, one per line (added to http_tokens)"
    )
    http_read_open: bool = Field(
        True,
        description="read-only endpoints need no token (off: they need one too); "
        "/healthz and /readyz never do",
    )
    http_max_body: int = Field(
        1_048_576, ge=1024, le=64 * 1_048_576, description="largest request body, bytes"
    )
    http_max_batch: int = Field(
        1000, ge=1, le=100_000, description="most events in one submitted batch"
    )
    # --- logs -------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log level")
    log_format: Literal["text", "json"] = Field(
        "text", description="log line format: text, or json (one object per line)"
    )

    @field_validator("http")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT with a port from 1 to 65535")
        return value

    @field_validator("zk")
    @classmethod
    def _zk_hosts(cls, value: str) -> str:
        hosts = value.partition("/")[0]
        for host in hosts.split(","):
            name, sep, port = host.strip().rpartition(":")
            if not host.strip() or (sep and (not name or not port.isdigit())):
                raise ValueError("expected host:port[,host:port...][/chroot]")
        return value

    @field_validator("http_tokens")
    @classmethod
    def _longsplit_tokens(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(len(t.get_secret_value()) < MIN_TOKEN_LENGTH for t in value):
            raise ValueError(f"every token needs at least {MIN_TOKEN_LENGTH} characters")
        return value

    @field_validator("redis")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        try:
            urlsplit(value).port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError("the URL's port is not a number from 0 to 65535") from None
        return value

    @field_validator("zk_auth")
    @classmethod
    def _digest(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_digest(value.get_secret_value())
        return value

    @field_validator("zk_auth_file")
    @classmethod
    def _digest_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            check_digest(read_secret(value))
        return value

    @field_validator("redis_password_file")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None:
            read_secret(value)
        return value

    @field_validator("redis_tls_ca_file", "redis_tls_cert_file", "redis_tls_key_file", "rules")
    @classmethod
    def _exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("http_tokens", mode="before")
    @classmethod
    def _splitsplit_tokens(cls, value: Any) -> Any:
        return split_tokens(value) if isinstance(value, str) else value

    @field_validator("http_tokens_file")
    @classmethod
    def _token_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            read_secret(value)
            tokens = split_tokens(value.read_text(encoding="utf-8"))
            if any(len(t) < MIN_TOKEN_LENGTH for t in tokens):
                raise ValueError(f"every token needs at least {MIN_TOKEN_LENGTH} characters")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        for secret, file in (
            ("zk_auth", "zk_auth_file"),
            ("redis_password", "redis_password_file"),
        ):
            if getattr(self, secret) is not None and getattr(self, file) is not None:
                raise ValueError(
                    f"settings {secret!r} ({env_name(secret)}) and {file!r} ({env_name(file)}) "
                    "are both set: use one"
                )
        if self.zk_world_read and not self.has_zk_auth:
            raise ValueError(
                "setting 'zk_world_read' (JARVIS_ZK_WORLD_READ) needs 'zk_auth' or 'zk_auth_file'"
            )
        if not self.redis.startswith("rediss://"):
            for name in ("redis_tls_ca_file", "redis_tls_cert_file", "redis_tls_key_file"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"setting {name!r} ({env_name(name)}) needs a rediss:// URL in 'redis'"
                    )
        if self.redis_mode == "cluster" and self.redis.startswith("unix://"):
            raise ValueError(
                "setting 'redis_mode' (JARVIS_REDIS_MODE) is cluster: 'redis' must be a "
                "redis:// or rediss:// URL of one node, not a unix socket"
            )
        if self.tick_workers >= self.redis_max_connections:
            raise ValueError(
                f"setting 'tick_workers' ({self.tick_workers}) must be below "
                f"'redis_max_connections' ({self.redis_max_connections}): the HTTP interface "
                "needs connections too"
            )
        if (self.redis_tls_cert_file is None) != (self.redis_tls_key_file is None):
            raise ValueError(
                "settings 'redis_tls_cert_file' and 'redis_tls_key_file' go together: set both"
            )
        return self

    # --- resolved secrets (read files now, so a rotated secret is picked up) -----------

    @property
    def has_zk_auth(self) -> bool:
        return self.zk_auth is not None or self.zk_auth_file is not None

    @property
    def min_replicas(self) -> int:
        """Replicas every acknowledged write must reach: ``redis_min_replicas`` or the
        mode's default (1 in cluster mode, 0 in standalone mode)."""
        if self.redis_min_replicas is not None:
            return self.redis_min_replicas
        return 1 if self.redis_mode == "cluster" else 0

    def zk_credentials(self) -> str | None:
        """``user:password`` for ZooKeeper digest auth, or None."""
        if self.zk_auth is not None:
            return self.zk_auth.get_secret_value()
        if self.zk_auth_file is not None:
            return read_file_setting("zk_auth_file", self.zk_auth_file)
        return None

    def redis_password_value(self) -> str | None:
        """The Redis password from ``redis_password(_file)``, or None (the URL's stands)."""
        if self.redis_password is not None:
            return self.redis_password.get_secret_value()
        if self.redis_password_file is not None:
            return read_file_setting("redis_password_file", self.redis_password_file)
        return None

    def http_token_values(self) -> tuple[str, ...]:
        """Every accepted bearer token (``http_tokens`` and ``http_tokens_file``)."""
        tokens = [t.get_secret_value() for t in self.http_tokens]
        if self.http_tokens_file is not None:
            text = self.http_tokens_file.read_text(encoding="utf-8")
            tokens.extend(split_tokens(text))
        return tuple(tokens)

    def redacted(self) -> dict[str, Any]:
        """Every setting as JSON-able values, secrets masked: safe to print or log."""
        values = self.model_dump(mode="json")
        for name in SECRETS:
            if isinstance(values[name], list):
                values[name] = [MASK] * len(values[name])
            elif values[name] is not None:
                values[name] = MASK
        values["redis"] = mask_url(self.redis)
        return values


def read_file_setting(name: str, path: Path) -> str:
    try:
        return read_secret(path)
    except ValueError as exc:
        raise ConfigError(f"setting {name!r} ({env_name(name)}): {exc}") from None
