"""Lua scripts, kept as ``.lua`` files beside this module.

:func:`source` returns a script's text with the fencing prelude (``fence.lua``) in
front, so every mutating script starts with the same epoch check. A script calls it as::

    local refused = fence(KEYS[1], KEYS[2], ARGV[1])   -- epoch key, stats key, epoch
    if refused then return refused end
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["source"]


@cache
def _read(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def source(name: str, fenced: bool = True) -> str:
    """The text of ``<name>.lua``, with the fencing prelude in front when ``fenced``."""
    body = _read(f"{name}.lua")
    return _read("fence.lua") + "\n" + body if fenced else body
