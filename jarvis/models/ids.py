"""Names that cross ZooKeeper paths and Redis keys: partition ids, member ids, cluster
names, zones.

One rule for all of them, defined here so that both ``jarvis.election`` (ZooKeeper
paths) and ``jarvis.store`` (Redis keys) use the same one: letters, digits, ``-``, ``_``
and ``.``; 1 to 64 characters, starting with a letter or digit. Such a name never holds
``/`` (a ZooKeeper path separator), ``:`` (a Redis key separator) or ``{`` / ``}`` (a
Redis Cluster hash tag).
"""

from __future__ import annotations

import re

from jarvis.errors import BadInputError

__all__ = ["NAME", "NAME_PATTERN", "check_name"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
NAME = re.compile(NAME_PATTERN)


def check_name(value: object, what: str) -> str:
    """Return ``value`` if it is a valid name, else raise BadInputError naming ``what``."""
    if not isinstance(value, str) or not NAME.match(value):
        raise BadInputError(
            f"invalid {what} {value!r}: use 1-64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return value
