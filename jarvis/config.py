"""Settings of a Jarvis member: defaults < TOML file < ``JARVIS_*`` environment < flags.

Every setting has a default, an environment variable (``JARVIS_`` + its name in upper
case) and one line of documentation (its ``description``). :func:`load_settings` merges
the sources and validates the result; an invalid value raises
:class:`~jarvis.errors.ConfigError` naming the setting and where it came from.

The file is TOML with the same names, at top level::

    zk = "zk1:2181,zk2:2181,zk3:2181"
    redis = "redis://jarvis:secret@redis:6379/0"
    zone = "eu-west-1a"
    tick = 1.0
"""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from jarvis.errors import ConfigError

__all__ = ["ENV_PREFIX", "Settings", "load_settings"]

ENV_PREFIX = "JARVIS_"


def _default_member() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseModel):
    """The settings of one member. Field descriptions are the documentation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    zk: str = Field("127.0.0.1:2181", description="ZooKeeper hosts, host:port[,host:port...]")
    redis: str = Field("redis://127.0.0.1:6379/0", description="Redis URL (redis:// or rediss://)")
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
    http: str | None = Field(
        None, description="HOST:PORT the HTTP interface listens on (unset: no HTTP)"
    )
    rules: Path | None = Field(None, description="TOML rules file (eligibility)")
    claim_ttl: float = Field(60.0, gt=0.0, le=86400.0, description="work claim lease, seconds")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log level")
    log_format: Literal["text", "json"] = Field("text", description="log line format")

    @field_validator("http")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT with a port from 1 to 65535")
        return value

    @field_validator("redis")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return value


def _from_env(environ: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in Settings.model_fields:
        key = ENV_PREFIX + name.upper()
        if key in environ:
            values[name] = environ[key]
    return values


def _from_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s): {', '.join(unknown)}")
    return data


def load_settings(
    file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge defaults, ``file``, ``environ`` (``JARVIS_*``) and ``overrides`` (flags)."""
    environ = os.environ if environ is None else environ
    sources: dict[str, str] = {}
    merged: dict[str, Any] = {}
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if file is not None:
        layers.append((f"config file {file}", _from_file(file)))
    layers.append(("environment", _from_env(environ)))
    layers.append(("command line", {k: v for k, v in (overrides or {}).items() if v is not None}))
    for origin, values in layers:
        for name, value in values.items():
            merged[name] = value
            sources[name] = origin
    try:
        return Settings.model_validate(merged)
    except PydanticValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(p) for p in error["loc"]) or "?"
            origin = sources.get(name, "default")
            var = ENV_PREFIX + name.upper()
            problems.append(f"setting {name!r} ({var}, from {origin}): {error['msg']}")
        raise ConfigError("; ".join(problems)) from exc
