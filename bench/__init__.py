"""Benchmarks: `make bench` (or `python -m bench [NAME ...]`).

Every module ``bench/bench_*.py`` exposes ``run(quick: bool) -> list[dict[str, object]]``;
each dict is one benchmark result with a ``"benchmark"`` name and named figures, always
measured side by side with the reference it is compared to, in the same run.
"""
