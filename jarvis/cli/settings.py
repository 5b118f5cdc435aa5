"""`jarvis run` and `jarvis config check`: the commands that read the member's settings.

Both take ``--config FILE`` (``JARVIS_CONFIG``) and one flag per setting that is not a
secret (``--session-timeout`` for ``session_timeout``; secrets come only from the
environment or files, never from a command line that ``ps`` shows). Settings merge as
defaults < file < ``JARVIS_*`` < flags; an invalid one exits with code 2 and a message
naming it.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jarvis.cli.common import EXIT_FAILURE, EXIT_OK, env, on_signals
from jarvis.config import (
    SECRETS,
    Settings,
    env_name,
    explain_settings,
    unknown_env,
)
from jarvis.logs import configure_logging

__all__ = [
    "add_setting_flags",
    "add_settings_commands",
    "explain_args",
    "secret_values",
    "settings_markdown",
]

#: Global flags (``jarvis --log-level ... run``), also accepted after ``run``.
_GLOBAL = ("log_level", "log_format")

log = logging.getLogger(__name__)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=env("JARVIS_CONFIG"),
        help="TOML settings file (env JARVIS_CONFIG)",
    )
    for name, field in Settings.model_fields.items():
        if name in SECRETS:
            continue
        parser.add_argument(
            _flag(name),
            dest=name,
            default=argparse.SUPPRESS,  # not given: the file, env or default stands
            metavar=name.upper(),
            help=f"{field.description} (env {env_name(name)})",
        )


def explain_args(args: argparse.Namespace) -> tuple[Settings, dict[str, str]]:
    overrides = {name: getattr(args, name, None) for name in Settings.model_fields}
    return explain_settings(args.config, overrides=overrides)


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold, for the log scrubber."""
    values = [settings.zk_credentials(), settings.redis_password_value()]
    values.extend(settings.http_token_values())
    values.append(urlsplit(settings.redis).password)
    credentials = settings.zk_credentials()
    if credentials:
        values.append(credentials.partition(":")[2])
    return [v for v in values if v]


def _cmd_run(args: argparse.Namespace) -> int:
    from jarvis.daemon import Daemon

    settings, _ = explain_args(args)
    configure_logging(
        settings.log_level,
        settings.log_format,
        member=settings.member,
        secrets=secret_values(settings),
    )
    daemon = Daemon(settings)
    stop = threading.Event()
    on_signals(stop.set)
    daemon.start()
    # What start-up made (modules, pydantic schemas, numpy and scipy: about 100,000
    # objects) lives as long as the process: kept out of the collector, a full collection
    # no longer rescans it while every tick thread waits on the GIL (139 ms -> under 1 ms
    # for that heap, measured in a process that imported what a member imports).
    gc.collect()
    gc.freeze()
    log.info("start-up objects kept out of the collector: %d", gc.get_freeze_count())
    stop.wait()
    drained = daemon.stop(graceful=True)
    return EXIT_OK if drained else EXIT_FAILURE


def _cmd_config_check(args: argparse.Namespace) -> int:
    """Validate everything ``jarvis run`` would read, then print it with secrets masked."""
    settings, sources = explain_args(args)
    secret_values(settings)  # reads the secret files now, as run would
    if settings.rules is not None:
        from jarvis.models.rules import load_rules

        load_rules(settings.rules)
    values = settings.redacted()
    for variable in unknown_env():
        print(f"jarvis: warning: {variable} is not a Jarvis setting (ignored)", file=sys.stderr)
    if args.json:
        print(json.dumps({"settings": values, "sources": sources}, indent=2))
        return EXIT_OK
    width = max(len(n) for n in values)
    shown = {n: _show(v) for n, v in values.items()}
    value_width = min(40, max(len(v) for v in shown.values()))
    for name, text in shown.items():
        print(f"{name.ljust(width)} = {text.ljust(value_width)}  ({sources[name]})")
    print("configuration is valid")
    return EXIT_OK


def settings_markdown() -> str:
    """The reference table of every setting (docs/configuration.md embeds it)."""
    lines = ["| setting | environment | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        if field.default_factory is not None:
            default = "host-pid"
        elif field.default is None or field.default == ():
            default = "unset"
        elif isinstance(field.default, bool):
            default = "true" if field.default else "false"
        else:
            default = str(field.default)
        meaning = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | `{env_name(name)}` | `{default}` | {meaning} |")
    return "\n".join(lines) + "\n"


def _cmd_config_doc(args: argparse.Namespace) -> int:
    print(settings_markdown(), end="")
    return EXIT_OK


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def add_settings_commands(sub: Any) -> None:
    run = sub.add_parser("run", help="run a member (the long-running daemon)")
    add_setting_flags(run)
    run.set_defaults(handler=_cmd_run)

    config = sub.add_parser("config", help="the member's settings")
    actions = config.add_subparsers(dest="action", required=True, parser_class=type(config))
    check = actions.add_parser(
        "check",
        help="validate the settings `jarvis run` would use and print them (secrets masked)",
    )
    add_setting_flags(check)
    check.add_argument("--json", action="store_true", help="print settings and sources as JSON")
    check.set_defaults(handler=_cmd_config_check)
    doc = actions.add_parser("doc", help="print the reference table of every setting (Markdown)")
    doc.set_defaults(handler=_cmd_config_doc)
