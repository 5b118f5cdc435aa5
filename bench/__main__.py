"""Run every benchmark, print a table and write ``bench-results.json``.

Each benchmark module runs in a fresh interpreter of its own (``--one``), as pyperf runs
its workers: in one long process every benchmark after the first ran with the objects
the earlier ones left (imported modules, servers' clients, caches), and a full garbage
collection, which scans them all, landed inside whichever timed part allocated most.
The whole city decision at 500 x 2,000 read 1.81x the bare solve in such a run against
1.30-1.37x alone, minutes later, on the same code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--out", default="bench-results.json", help="where to write the JSON")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # run one module here, rows to --out
    args = parser.parse_args(argv)
    if args.one:
        module = importlib.import_module(f"bench.{args.one}")
        Path(args.out).write_text(json.dumps(module.run(quick=args.quick)) + "\n")
        return 0

    modules = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    if args.names:
        unknown = set(args.names) - set(modules)
        if unknown:
            parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
        modules = [m for m in modules if m in args.names]

    results: list[dict[str, Any]] = []
    for name in modules:
        started = time.perf_counter()
        rows = _run_alone(name, args.quick)
        print(f"\n== {name} ({time.perf_counter() - started:.1f} s)")
        for row in rows:
            print("  " + "  ".join(f"{k}={_format(v)}" for k, v in row.items()))
        results.extend(rows)

    document = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {len(results)} results to {args.out}")
    return 0


def _run_alone(name: str, quick: bool) -> list[dict[str, Any]]:
    """The rows of benchmark module ``name``, run in a fresh interpreter (its output
    passes through); a failed run stops the whole run with its exit code."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, "-m", "bench", "--one", name, "--out", out.name]
        subprocess.run([*command, *(["--quick"] if quick else [])], check=True)
        rows: list[dict[str, Any]] = json.loads(Path(out.name).read_text())
    return rows


if __name__ == "__main__":
    sys.exit(main())
