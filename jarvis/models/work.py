"""Store partitions: work items (tasks) and associates (workers)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jarvis.models.city import ID_PATTERN

__all__ = ["Associate", "WorkItem", "may_take"]


class WorkItem(BaseModel):
    """A piece of store work.

    ``store`` is the partition it belongs to. ``remotable`` work may be done by a remote
    associate qualified for the store; store-bound work (``remotable=False``) never
    leaves it. ``due_at`` (seconds since the epoch) is the estimated completion deadline
    from which priority is derived; ``priority`` (0-100, higher first) is a base weight.
    ``max_attempts``: how many claims it may have before a claim that comes back sends it
    to the store's dead set (None: the store default).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    store: str = Field(pattern=ID_PATTERN)
    role: str = Field(pattern=ID_PATTERN)
    licence: str | None = Field(default=None, pattern=ID_PATTERN)
    remotable: bool = False
    duration_s: float = Field(default=300.0, gt=0, le=86400, allow_inf_nan=False)
    due_at: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    priority: int = Field(default=0, ge=0, le=100)
    created_at: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    max_attempts: int | None = Field(default=None, ge=1, le=1000)


class Associate(BaseModel):
    """A store associate: their home store, where they are qualified, what they may do.

    ``remote`` associates work from elsewhere and may only take remotable work of stores
    in ``stores``; in-store associates take work of their ``home_store``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    home_store: str = Field(pattern=ID_PATTERN)
    stores: frozenset[str] = frozenset()
    roles: frozenset[str] = Field(min_length=1)
    licences: frozenset[str] = frozenset()
    remote: bool = False


def may_take(associate: Associate, item: WorkItem) -> str | None:
    """``None`` if ``associate`` may take ``item``, else the reason they may not."""
    if item.role not in associate.roles:
        return f"role {item.role!r} not held"
    if item.licence is not None and item.licence not in associate.licences:
        return f"licence {item.licence!r} not held"
    in_store = not associate.remote and item.store == associate.home_store
    if in_store:
        return None
    if not item.remotable:
        return f"work is bound to store {item.store!r}"
    if item.store not in associate.stores:
        return f"not qualified for store {item.store!r}"
    return None
