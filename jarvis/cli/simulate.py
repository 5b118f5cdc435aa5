"""`jarvis simulate` and `jarvis replay`: decision quality, measured on a simulated day.

::

    jarvis simulate [--config FILE] [--seed N] [--start HH:MM] [--end HH:MM | --hours H]
                    [--couriers N] [--orders-per-hour X] [--policy P[,P...] | all]
                    [--tick S] [--json]
    jarvis replay CITY --config FILE [--baseline FILE] [--cluster-baseline] [--redis URL]
                  [--namespace NS] [--zk HOSTS --cluster NAME] [--json]

``simulate`` runs one seeded day (:mod:`jarvis.sim`) under each policy named and prints
the KPI table, one column per policy, each compared with the first; ``--config`` is a
YAML or JSON scenario file, which the flags override. ``replay`` reads a city's recorded
incoming stream from Redis and runs it under the baseline settings (``--baseline``, by
default the built-in ones with route-aware costs, as the city engine decides; with
``--cluster-baseline`` the city settings are the city's own, as registered in ZooKeeper)
and under ``--config``, side by side. ``--json`` prints ``{"runs": {name: {kpi:
value}}, "baseline": name}`` (and for replay ``"settings"``: each run's policy and city
settings). Bad flags, settings or files exit with 2 and a message.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from typing import TYPE_CHECKING, Any

from jarvis.cli.common import EXIT_OK, add_connection_flags, env, positive_float, positive_int
from jarvis.errors import BadInputError, ConfigError

if TYPE_CHECKING:
    from jarvis.models import CityConfig
    from jarvis.sim import Kpis, Scenario

# jarvis.sim (numpy, scipy) is imported by the handlers only: every other command starts
# without it.

#: The policies of jarvis.sim.scenario.POLICIES (a test checks that they agree).
POLICIES = ("greedy", "slots", "routes", "bundling")

__all__ = ["add_simulate_commands"]


def _policies(text: str) -> list[str]:
    names = list(POLICIES) if text == "all" else [p.strip() for p in text.split(",")]
    unknown = [p for p in names if p not in POLICIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown policy {', '.join(unknown) or text!r} (one of: {', '.join(POLICIES)}, all)"
        )
    return names


def _scenario(args: argparse.Namespace) -> Scenario:
    from jarvis.sim import Scenario, clock_seconds, load_scenario

    base = load_scenario(args.config) if args.config else Scenario()
    changes: dict[str, Any] = {}
    for flag, name in (("seed", "seed"), ("couriers", "couriers"), ("tick", "tick_s")):
        if getattr(args, flag) is not None:
            changes[name] = getattr(args, flag)
    if args.orders_per_hour is not None:
        changes["orders_per_hour"] = args.orders_per_hour
    if args.start is not None:
        changes["start_s"] = clock_seconds(args.start)
    start = changes.get("start_s", base.start_s)
    if args.end is not None:
        changes["end_s"] = clock_seconds(args.end)
    elif args.hours is not None:
        changes["end_s"] = start + args.hours * 3600.0
    elif args.start is not None and start >= base.end_s:
        raise ConfigError("--start is not before the scenario's end: give --end or --hours")
    return base.replace(**changes)


def _json_value(value: float | int) -> float | int | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def _print(
    runs: list[tuple[str, Kpis]],
    as_json: bool,
    baseline: str,
    scenarios: dict[str, Scenario] | None = None,
) -> None:
    if as_json:
        document: dict[str, Any] = {
            "runs": {
                name: {k: _json_value(v) for k, v in figures.as_dict().items()}
                for name, figures in runs
            },
            "baseline": baseline,
        }
        if scenarios:
            document["settings"] = {
                name: {"policy": s.policy, "city": dataclasses.asdict(s.city)}
                for name, s in scenarios.items()
            }
        print(json.dumps(document, indent=2))
    else:
        from jarvis.sim import kpi_table

        print(kpi_table(runs, baseline if len(runs) > 1 else None))


def _cmd_simulate(args: argparse.Namespace) -> int:
    from jarvis.sim import run_scenario

    scenario = _scenario(args)
    policies = args.policy or [scenario.policy]
    runs = []
    for policy in policies:
        _, figures = run_scenario(scenario.replace(policy=policy))
        runs.append((policy, figures))
    _print(runs, args.json, policies[0])
    return EXIT_OK


def _cmd_replay(args: argparse.Namespace) -> int:
    from jarvis.cli.common import redis_for
    from jarvis.sim import Scenario, load_scenario, recorded_day, run_scenario
    from jarvis.store.keys import check_partition_id

    city = check_partition_id(args.city)
    other = load_scenario(args.config)
    baseline = load_scenario(args.baseline) if args.baseline else Scenario()
    if args.cluster_baseline:
        baseline = baseline.replace(city=_registered_city(args, city))
    client = redis_for(args, args.redis)
    try:
        day = recorded_day(client, city, args.namespace)
    finally:
        client.close()
    runs = [
        ("baseline", run_scenario(baseline, day)[1]),
        ("config", run_scenario(other, day)[1]),
    ]
    _print(runs, args.json, "baseline", {"baseline": baseline, "config": other})
    return EXIT_OK


def _registered_city(args: argparse.Namespace, city: str) -> CityConfig:
    """The city's settings as registered in ZooKeeper (``partitions add ... --config``)."""
    from jarvis.cli.common import zookeeper
    from jarvis.election import PartitionRegistry
    from jarvis.models import city_config

    with zookeeper(args) as client:
        info = PartitionRegistry(client, args.cluster).get(city)
    if info is None or info.kind != "city":
        raise BadInputError(f"{city!r} is not a city registered in cluster {args.cluster!r}")
    return city_config(info.config)


def add_simulate_commands(sub: Any) -> None:
    simulate = sub.add_parser("simulate", help="simulate a day in one city and print its KPIs")
    simulate.add_argument("--config", help="scenario file, YAML or JSON (flags override it)")
    simulate.add_argument("--seed", type=int, default=None, help="seed of the day (default 1)")
    simulate.add_argument("--start", default=None, help="orders start arriving, HH:MM")
    when = simulate.add_mutually_exclusive_group()
    when.add_argument("--end", default=None, help="orders stop arriving, HH:MM")
    when.add_argument("--hours", type=positive_float, default=None, help="hours after --start")
    simulate.add_argument("--couriers", type=positive_int, default=None, help="fleet size")
    simulate.add_argument(
        "--orders-per-hour", type=positive_float, default=None, help="orders an hour at peak"
    )
    simulate.add_argument(
        "--policy",
        type=_policies,
        default=None,
        help=f"policies to run, comma-separated ({', '.join(POLICIES)}) or all",
    )
    simulate.add_argument("--tick", type=positive_float, default=None, help="seconds per tick")
    simulate.add_argument("--json", action="store_true", help="print the KPIs as JSON")
    simulate.set_defaults(handler=_cmd_simulate)

    replay = sub.add_parser(
        "replay", help="re-run a city's recorded incoming stream under other settings"
    )
    add_connection_flags(replay, redis=True)
    replay.add_argument(
        "--namespace",
        default=env("JARVIS_NAMESPACE", "jarvis"),
        help="prefix of every Redis key (env JARVIS_NAMESPACE)",
    )
    replay.add_argument("city", help="the city partition whose stream to replay")
    replay.add_argument("--config", required=True, help="scenario file with the other settings")
    replay.add_argument("--baseline", default=None, help="scenario file of the baseline")
    replay.add_argument(
        "--cluster-baseline",
        action="store_true",
        help="the baseline's city settings are the city's own, read from ZooKeeper "
        "(--zk, --cluster)",
    )
    replay.add_argument("--json", action="store_true", help="print the KPIs as JSON")
    replay.set_defaults(handler=_cmd_replay)
