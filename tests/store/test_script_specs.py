"""Every Lua script against its spec (jarvis/store/specs.py), read from the .lua file:
the two cannot drift apart, and no script builds a key name itself."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from jarvis.store.specs import SPECS, ScriptSpec

SCRIPTS = resources.files("jarvis.store.scripts")
LIBS = sorted({lib for spec in SPECS.values() for lib in spec.libs} | {"fence", "check_keys"})


def _mask(match: re.Match[str]) -> str:
    return re.sub(r"[()\[\]{},]", "_", match.group(0))


def _code(name: str) -> str:
    """The script's text without comments (none of our scripts has '--' in a string),
    brackets and commas inside string literals masked (so calls split cleanly)."""
    text = SCRIPTS.joinpath(f"{name}.lua").read_text(encoding="utf-8")
    code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    return re.sub(r"'[^'\n]*'|\"[^\"\n]*\"", _mask, code)


def _split_top(text: str) -> list[str]:
    """``text`` split at its top-level commas (not inside (), [] or {})."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _call_args(code: str, at: int) -> list[str]:
    """The arguments of the call whose '(' is at ``at``."""
    depth = 0
    for i in range(at, len(code)):
        if code[i] == "(":
            depth += 1
        elif code[i] == ")":
            depth -= 1
            if depth == 0:
                return _split_top(code[at + 1 : i])
    raise AssertionError(f"unbalanced call at {at}")


def key_arguments(code: str) -> list[str]:
    """The key argument of every redis.call / redis.pcall (every key, for DEL)."""
    keys = []
    for match in re.finditer(r"redis\.p?call\s*\(", code):
        args = _call_args(code, match.end() - 1)
        command = args[0].strip("'\"").upper()
        keys.extend(args[1:] if command in ("DEL", "EXISTS") else args[1:2])
    return keys


def assignments(code: str) -> dict[str, list[str]]:
    """name -> every expression assigned to it (``local a, b = x, y``, ``a = x``), and
    the names bound by ``for`` loops (their expression: ``for``)."""
    found: dict[str, list[str]] = {}
    for match in re.finditer(
        r"^\s*(?:local\s+)?([A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=(?!=)\s*(.+)$",
        code,
        re.M,
    ):
        names = [n.strip() for n in match.group(1).split(",")]
        values = _split_top(match.group(2))
        for name, value in zip(names, values + [""] * len(names), strict=False):
            found.setdefault(name, []).append(value)
    for match in re.finditer(r"\bfor\s+([\w\s,]+?)\s+in\b", code):
        for name in match.group(1).split(","):
            found.setdefault(name.strip(), []).append("for")
    return found


def parameters(code: str) -> set[str]:
    names: set[str] = set()
    for match in re.finditer(r"function\s*[\w.]*\s*\(([^)]*)\)", code):
        names.update(n.strip() for n in match.group(1).split(",") if n.strip())
    return names


def key_problems(code: str) -> list[str]:
    """Key arguments that are not taken from KEYS as they are."""
    assigned, params = assignments(code), parameters(code)
    problems = []
    for key in key_arguments(code):
        if re.fullmatch(r"KEYS\[[^\]]+\]", key):
            continue
        if not re.fullmatch(r"[A-Za-z_]\w*", key):
            problems.append(f"key expression {key!r} is built, not taken from KEYS")
        elif key in params and key not in assigned:
            continue  # a helper's parameter: its callers pass keys, checked where called
        elif not assigned.get(key) or any(not v.startswith("KEYS[") for v in assigned[key]):
            problems.append(f"key {key!r} is assigned from {assigned.get(key)!r}, not KEYS")
    return problems


@pytest.mark.parametrize("name", sorted(SPECS))
def test_script_uses_exactly_the_keys_and_args_its_spec_declares(name: str) -> None:
    spec: ScriptSpec = SPECS[name]
    code = _code(name)
    keys = {int(i) for i in re.findall(r"\bKEYS\[(\d+)\]", code)}
    args = {int(i) for i in re.findall(r"\bARGV\[(\d+)\]", code)}
    assert keys == set(range(1, len(spec.keys) + 1)), f"KEYS used {sorted(keys)} vs {spec.keys}"
    assert args == set(range(1, len(spec.args) + 1)), f"ARGV used {sorted(args)} vs {spec.args}"

    # A KEYS tail is read by a loop from its first index, or indexed from a constant
    # FIRST_MORE_KEY; either must sit right after the declared keys.
    key_tails = [
        int(i)
        for i in re.findall(
            r"for\s+\w+\s*=\s*(\d+)\s*,\s*#KEYS|local\s+FIRST_MORE_KEY\s*=\s*(\d+)", code
        )
        for i in i
        if i
    ]
    arg_tails = re.findall(r"for\s+\w+\s*=\s*(\d+)\s*,\s*#ARGV\s*(?:,\s*(\d+))?", code)
    dynamic_keys = re.search(r"\bKEYS\[(?!\d+\])", code) is not None
    dynamic_args = re.search(r"\bARGV\[(?!\d+\])", code) is not None
    if spec.more_keys is None:
        assert (key_tails, dynamic_keys) == ([], False), "reads KEYS past its declared keys"
    else:
        assert set(key_tails) == {len(spec.keys) + 1}, key_tails
    if not spec.more_args:
        assert (arg_tails, dynamic_args) == ([], False), "reads ARGV past its declared args"
    else:
        width = len(spec.more_args)
        assert arg_tails, "declares argument groups but never reads them"
        for start, step in arg_tails:
            assert (int(start), int(step or 1)) == (len(spec.args) + 1, width)
    if spec.fenced:
        assert re.search(r"fence\(KEYS\[1\], KEYS\[2\], ARGV\[1\]\)", code)


@pytest.mark.parametrize("name", sorted(SPECS) + LIBS)
def test_no_script_builds_a_key_name(name: str) -> None:
    assert key_problems(_code(name)) == []


@pytest.mark.parametrize(
    "lua",
    [
        "redis.call('GET', 'jarvis:{s}:x')",
        "redis.call('ZCARD', KEYS[1] .. '|r')",
        "for _, q in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do redis.call('ZCARD', q) end",
        "local c = cjson.decode(x)\nredis.call('ZADD', c.q, 1, 'a')",
        "local k = ARGV[1]\nredis.call('DEL', KEYS[1], k)",
    ],
)
def test_the_key_check_catches_a_built_key(lua: str) -> None:
    assert key_problems(lua) != []


def test_every_script_file_has_a_spec() -> None:
    files = {p.name[: -len(".lua")] for p in SCRIPTS.iterdir() if p.name.endswith(".lua")}
    assert files == set(SPECS) | set(LIBS)
