"""The work dispenser's Lua scripts, registered once per client, and how Redis replies
and errors cross into Jarvis.

Each script is ``scripts/work_<name>.lua``; the ones that check claims get the shared
helpers of ``work_lib.lua`` in front, and the owner's per-tick scripts (``reap``,
``score``) the fencing prelude before that. A script's error reply is turned into ours
here: ``NOTCLAIMED`` -> :class:`NotClaimedError`, ``FENCED`` -> :class:`FencedError`,
``BADEPOCH`` -> :class:`BadInputError`, anything else from redis-py ->
:class:`StoreError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from redis.commands.core import Script

from jarvis.errors import BadInputError, FencedError, NotClaimedError, StoreError
from jarvis.store.scripts import source

__all__ = ["WorkScripts", "guarded", "run", "text"]

#: name -> (fenced, needs work_lib.lua)
_SCRIPTS = {
    "enqueue": (False, True),
    "get": (False, False),
    "complete": (False, True),
    "release": (False, True),
    "heartbeat": (False, True),
    "reap": (True, True),
    "score": (True, False),
    "counts": (False, False),
}


def _text(name: str) -> str:
    fenced, lib = _SCRIPTS[name]
    parts = [source("fence", fenced=False)] if fenced else []
    if lib:
        parts.append(source("work_lib", fenced=False))
    parts.append(source(f"work_{name}", fenced=False))
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class WorkScripts:
    """Every work script, registered on one Redis client (``EVALSHA``, reloaded if lost)."""

    enqueue: Script
    get: Script
    complete: Script
    release: Script
    heartbeat: Script
    reap: Script
    score: Script
    counts: Script

    @classmethod
    def register(cls, client: redis.Redis) -> WorkScripts:
        return cls(**{name: client.register_script(_text(name)) for name in _SCRIPTS})


def run(
    script: Script, keys: list[str], args: list[str], store: str, epoch: int | None = None
) -> Any:
    """Run ``script``, turning its error replies and redis-py's errors into ours."""
    try:
        return script(keys=keys, args=args)
    except redis.ResponseError as exc:
        message = str(exc)
        if message.startswith("NOTCLAIMED "):
            raise NotClaimedError(f"store {store!r}: {message[len('NOTCLAIMED ') :]}") from exc
        if message.startswith("FENCED ") and epoch is not None:
            raise FencedError(store, epoch, int(message.split()[1])) from exc
        if message.startswith("BADEPOCH"):
            raise BadInputError(f"store {store!r}: invalid epoch {epoch!r}") from exc
        raise StoreError(f"store {store!r}: Redis refused a work script: {message}") from exc
    except redis.RedisError as exc:
        raise StoreError(f"store {store!r}: Redis failed: {exc}") from exc


def guarded(what: str, call: Callable[..., Any]) -> Callable[..., Any]:
    """``call``, with redis-py's errors turned into StoreError("could not <what>")."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except redis.RedisError as exc:
            raise StoreError(f"could not {what}: {exc}") from exc

    return wrapped


def text(value: Any) -> str:
    """A reply value as text, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)
