"""Lua scripts, kept as ``.lua`` files beside this module, and the one way their source
is assembled: :func:`source`.

A script's text is, in order: the key checker (only when asked, see below), the
fencing prelude ``fence.lua`` when its spec is fenced, the libraries its spec names,
then the script itself. A fenced script starts with::

    local refused = fence(KEYS[1], KEYS[2], ARGV[1])   -- epoch key, stats key, epoch
    if refused then return refused end

``check_keys=True`` puts ``check_keys.lua`` in front: a ``redis`` that refuses any call
on a key not in ``KEYS`` and any call whose ``KEYS`` span more than one hash tag. Tests
run the real callers with it (``tests/store/test_script_keys.py``).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from jarvis.store.specs import ScriptSpec

__all__ = ["source"]


@cache
def _read(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


@cache
def source(spec: ScriptSpec, check_keys: bool = False) -> str:
    """The whole text of ``spec``'s script, preludes and libraries in front."""
    parts = ["check_keys"] if check_keys else []
    if spec.fenced:
        parts.append("fence")
    parts.extend(spec.libs)
    parts.append(spec.name)
    return "\n".join(_read(f"{part}.lua") for part in parts)
