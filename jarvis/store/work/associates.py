"""Registered associates: one global hash of associate JSON, read through a short
per-process cache.

Get-work looks an associate up by id on every request, so each process keeps what it
read for ``cache_s`` seconds: a change to an associate (new role, new store) reaches
every member within that time. ``cache_s=0`` reads Redis every time.
"""

from __future__ import annotations

import threading
import time

import pydantic

from jarvis.errors import BadInputError, StoreError, UnknownAssociateError
from jarvis.models.work import Associate
from jarvis.store.keys import DEFAULT_NAMESPACE
from jarvis.store.replication import RedisClient
from jarvis.store.replies import guarded
from jarvis.store.work.keys import GlobalWorkKeys
from jarvis.store.work.rules import check_id

__all__ = ["AssociateDirectory"]

#: At most this many associates are cached per directory (then the cache starts over).
CACHE_SIZE = 100_000


class AssociateDirectory:
    """Associates by id. ``max_queues`` refuses, at registration, an associate whose
    roles and licences span more class queues than one get-work may look at."""

    def __init__(
        self,
        redis: RedisClient,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        max_queues: int = 64,
        cache_s: float = 5.0,
    ) -> None:
        self.redis = redis
        self.max_queues = max_queues
        self.cache_s = cache_s
        self._key = GlobalWorkKeys(namespace).associates
        self._cache: dict[str, tuple[float, Associate]] = {}
        self._lock = threading.Lock()

    def register(self, associate: Associate) -> None:
        """Store (or replace) ``associate``."""
        if not isinstance(associate, Associate):
            raise BadInputError(f"not an Associate: {type(associate).__name__}")
        widest = len(associate.roles) * (len(associate.licences) + 1) * 2
        if widest > self.max_queues:
            raise BadInputError(
                f"associate {associate.id!r}: {len(associate.roles)} roles and "
                f"{len(associate.licences)} licences span {widest} work queues, more than "
                f"the {self.max_queues} one get-work may look at"
            )
        guarded("register an associate", self.redis.hset)(
            self._key, associate.id, associate.model_dump_json()
        )
        self._remember(associate)

    def get(self, associate_id: str) -> Associate:
        """The associate; :class:`UnknownAssociateError` if it was never registered."""
        check_id(associate_id, "associate")
        cached = self._cache.get(associate_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        raw = guarded("read an associate", self.redis.hget)(self._key, associate_id)
        if raw is None:
            raise UnknownAssociateError(f"unknown associate {associate_id!r}")
        try:
            associate = Associate.model_validate_json(raw)
        except pydantic.ValidationError as exc:
            raise StoreError(f"associate {associate_id!r}: stored record is invalid") from exc
        self._remember(associate)
        return associate

    def _remember(self, associate: Associate) -> None:
        if self.cache_s <= 0:
            return
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            self._cache[associate.id] = (time.monotonic() + self.cache_s, associate)
