"""Checks of a package's public surface against the package itself.

Each ``tests/<package>/test_exports.py`` runs :func:`check_exports` on its package instead
of restating ``__all__`` by hand (httpx's ``tests/test_exported_members.py`` does the same
for ``httpx``):

- ``__all__`` is sorted the way ruff sorts it (RUF022: constants, classes, the rest) and
  has no duplicate;
- every name in it is bound in the package, ``from package import *`` gives exactly
  those names, and each class or function it names is defined inside the package;
- nothing else public is bound in the package (submodules aside);
- every public name that jarvis code outside the package imports from the package's
  modules is in ``__all__``: what callers use is the surface. Tests and benchmarks may
  reach into modules (white-box); they are not callers here.
"""

from __future__ import annotations
import __future__

import ast
import inspect
import re
import types
from pathlib import Path

__all__ = ["check_exports", "ruff_order"]

ROOT = Path(__file__).resolve().parents[1]
JARVIS = ROOT / "jarvis"


def ruff_order(name: str) -> tuple[int, list[object]]:
    """The sort key of ruff's RUF022 (isort-style): SCREAMING_CASE, CamelCase, the rest,
    each in natural order."""
    if len(name) > 1 and name.isupper():
        kind = 0
    elif name[:1].isupper():
        kind = 1
    else:
        kind = 2
    parts = re.split(r"(\d+)", name)
    return kind, [int(p) if p.isdigit() else p for p in parts]


def _public_bindings(package: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and not isinstance(value, __future__._Feature)
    }


def _used_by_callers(package: types.ModuleType) -> dict[str, set[str]]:
    """Public names imported from ``package``'s modules by jarvis code outside it ->
    the files importing them."""
    inside = Path(package.__file__ or "").resolve().parent
    prefix = package.__name__ + "."
    used: dict[str, set[str]] = {}
    for path in JARVIS.rglob("*.py"):
        if inside in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(prefix):
                continue
            module = __import__(node.module or "", fromlist=["_"])
            if Path(module.__file__ or "").resolve().parent != inside:
                continue  # a subpackage's module: the subpackage's own surface
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if alias.name.startswith("_") or isinstance(value, types.ModuleType):
                    continue
                used.setdefault(alias.name, set()).add(str(path.relative_to(ROOT)))
    return used


def check_exports(package: types.ModuleType) -> None:
    """Assert the rules of the module docstring for ``package``."""
    name = package.__name__
    exported = list(package.__all__)
    assert exported == sorted(exported, key=ruff_order), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"

    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(exported)
    for member in exported:
        value = getattr(package, member)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__ == name or value.__module__.startswith(name + "."), (
                f"{name}.{member} is defined in {value.__module__}, outside {name}"
            )

    extra = _public_bindings(package) - set(exported)
    assert not extra, f"{name} binds public names missing from __all__: {sorted(extra)}"

    missing = {m: sorted(files) for m, files in _used_by_callers(package).items()}
    missing = {m: files for m, files in missing.items() if m not in exported}
    assert not missing, f"callers use names {name}.__all__ does not export: {missing}"
