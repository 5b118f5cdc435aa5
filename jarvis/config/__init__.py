"""Settings of a Jarvis member: defaults < TOML file < ``JARVIS_*`` environment < flags.

Every setting has a default, an environment variable (``JARVIS_`` + its name in upper
case) and one line of documentation (its ``description``; docs/configuration.md is
generated from them). :func:`load_settings` merges the sources and validates the result;
an invalid value raises :class:`~jarvis.errors.ConfigError` naming the setting and where
it came from, never echoing the value (it may be a secret).

The file is TOML with the same names, at top level::

    zk = "zk1:2181,zk2:2181,zk3:2181"
    zk_auth_file = "/run/secrets/jarvis-zk"        # one line: user:password
    redis = "rediss://redis:6379/0"
    redis_username = "jarvis"
    redis_password_file = "/run/secrets/jarvis-redis"
    zone = "eu-west-1a"
    tick = 1.0

Secrets (``zk_auth``, ``redis_password``, ``http_tokens``, and a password inside the
``redis`` URL) can also come from files (the ``*_file`` settings), read when Jarvis
connects, so a rotated secret file is picked up by the next connection. They are never
logged: :meth:`Settings.redacted` masks them, and :func:`mask_url` masks a URL's password.
"""

from jarvis.config.loading import explain_settings, load_settings, unknown_env
from jarvis.config.settings import (
    CLI_VARIABLES,
    ENV_PREFIX,
    MASK,
    MAX_PARTITIONS,
    SECRETS,
    Settings,
    env_name,
    mask_url,
)

__all__ = [
    "CLI_VARIABLES",
    "ENV_PREFIX",
    "MASK",
    "MAX_PARTITIONS",
    "SECRETS",
    "Settings",
    "env_name",
    "explain_settings",
    "load_settings",
    "mask_url",
    "unknown_env",
]
