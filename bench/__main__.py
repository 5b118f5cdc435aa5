"""Run every benchmark, print a table and write ``bench-results.json``."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import sys
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
    args = parser.parse_args(argv)

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
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        rows = module.run(quick=args.quick)
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


if __name__ == "__main__":
    sys.exit(main())
