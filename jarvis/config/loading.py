"""Where settings come from: defaults < TOML file < ``JARVIS_*`` environment < flags."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jarvis.config.settings import CLI_VARIABLES, ENV_PREFIX, Settings, env_name
from jarvis.errors import ConfigError

__all__ = ["explain_settings", "load_settings", "unknown_env"]


def _from_env(environ: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in Settings.model_fields:
        key = env_name(name)
        if key in environ:
            values[name] = environ[key]
    return values


def unknown_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """``JARVIS_*`` variables that are neither settings nor CLI variables (typos?)."""
    environ = os.environ if environ is None else environ
    known = {env_name(n) for n in Settings.model_fields} | CLI_VARIABLES
    return sorted(k for k in environ if k.startswith(ENV_PREFIX) and k not in known)


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
    return explain_settings(file, environ, overrides)[0]


def explain_settings(
    file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Settings, dict[str, str]]:
    """:func:`load_settings`, and where each setting came from (``"default"`` if unset)."""
    environ = os.environ if environ is None else environ
    sources: dict[str, str] = dict.fromkeys(Settings.model_fields, "default")
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
        return Settings.model_validate(merged), sources
    except ValidationError as exc:
        # ``from None``: pydantic's own message echoes input values, secrets included.
        raise ConfigError(_describe(exc, sources)) from None


def _describe(exc: ValidationError, sources: Mapping[str, str]) -> str:
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        name = str(error["loc"][0]) if error["loc"] else None
        if name is None:  # a rule across settings: the message names them
            problems.append(message)
            continue
        origin = sources.get(name, "default")
        problems.append(f"setting {name!r} ({env_name(name)}, from {origin}): {message}")
    return "; ".join(problems)
