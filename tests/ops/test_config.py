"""Bad configuration: every invalid setting, from the environment, a file or a flag,
stops `jarvis config check` and `jarvis run` with exit code 2 and a message naming it,
never echoing a secret. Good configuration is printed with its sources, secrets masked."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from jarvis.cli.main import EXIT_OK, EXIT_USAGE, main
from jarvis.config import SECRETS, Settings, env_name, load_settings
from jarvis.errors import ConfigError

#: One invalid value per setting (files named here do not exist).
INVALID: dict[str, str] = {
    "zk": "zk1:2181,",
    "zk_auth": "just-a-user-no-password",
    "zk_auth_file": "/nonexistent/zk-auth",
    "zk_world_read": "maybe",
    "redis": "http://redis:6379",
    "redis_username": "",
    "redis_password_file": "/nonexistent/redis-password",
    "redis_tls_ca_file": "/nonexistent/ca.crt",
    "redis_tls_cert_file": "/nonexistent/client.crt",
    "redis_tls_key_file": "/nonexistent/client.key",
    "redis_tls_verify": "perhaps",
    "redis_mode": "sentinel",
    "redis_min_replicas": "-1",
    "redis_wait_timeout": "0",
    "redis_timeout": "never",
    "redis_max_connections": "1",
    "cluster": "no spaces allowed",
    "namespace": "a{b}",
    "zone": "eu/west",
    "member": "m 1",
    "member_version": "1.0 beta",
    "tick": "0",
    "session_timeout": "0.5",
    "drain_timeout": "-1",
    "max_moves_per_interval": "0",
    "rebalance_interval": "soon",
    "tick_workers": "0",
    "max_partitions": "0",
    "balance_weights": "tasks",
    "weight_unit": "0",
    "claim_ttl": "0",
    "work_max_attempts": "0",
    "ranking_work_weight": "-1",
    "ranking_associate_weight": "heavy",
    "ranking_throughput_weight": "inf",
    "ranking_presence_s": "0",
    "ranking_throughput_s": "3601",
    "rules": "/nonexistent/rules.toml",
    "http": "8080",
    "http_tokens": "short",
    "http_tokens_file": "/nonexistent/tokens",
    "http_read_open": "sometimes",
    "http_max_body": "10",
    "http_max_batch": "0",
    "log_level": "LOUD",
    "log_format": "xml",
}
#: Settings for which every string is valid.
ANY_VALUE = {"redis_password"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("JARVIS_"):
            monkeypatch.delenv(key)


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _assert_refused(name: str, code: int, err: str) -> None:
    assert code == EXIT_USAGE, err
    assert f"'{name}'" in err, err
    assert env_name(name) in err, err
    if name in SECRETS:
        assert INVALID[name] not in err, "a secret was echoed"


def test_every_setting_that_can_be_invalid_has_a_case() -> None:
    assert set(INVALID) | ANY_VALUE == set(Settings.model_fields)


def test_tick_workers_must_leave_redis_connections_for_the_http_interface(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JARVIS_TICK_WORKERS", "16")
    monkeypatch.setenv("JARVIS_REDIS_MAX_CONNECTIONS", "16")
    code, _, err = _run(capsys, "config", "check")
    assert code == EXIT_USAGE, err
    assert "tick_workers" in err, err
    assert "redis_max_connections" in err, err


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_setting_in_the_environment_is_named_with_exit_code_2(
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restore_signals: None,
) -> None:
    monkeypatch.setenv(env_name(name), INVALID[name])
    for command in (["config", "check"], ["run"]):
        code, _, err = _run(capsys, *command)
        _assert_refused(name, code, err)
        assert "from environment" in err


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_setting_in_the_file_is_named_with_exit_code_2(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_signals: None
) -> None:
    config = tmp_path / "jarvis.toml"
    config.write_text(f"{name} = {json.dumps(INVALID[name])}\n")
    for command in (["config", "check"], ["run"]):
        code, _, err = _run(capsys, *command, "--config", str(config))
        _assert_refused(name, code, err)
        assert f"from config file {config}" in err


@pytest.mark.parametrize("name", sorted(set(INVALID) - SECRETS))
def test_an_invalid_flag_is_named_with_exit_code_2(
    name: str, capsys: pytest.CaptureFixture[str], restore_signals: None
) -> None:
    flag = "--" + name.replace("_", "-")
    for command in (["config", "check"], ["run"]):
        code, _, err = _run(capsys, *command, f"{flag}={INVALID[name]}")
        _assert_refused(name, code, err)
        assert "from command line" in err


def test_secrets_have_no_flags(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "run", "--zk-auth", "jarvis:secret")
    assert code == EXIT_USAGE
    assert "unrecognized arguments" in err


def test_a_rule_across_settings_names_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "zk-auth"
    secret.write_text("jarvis:from-a-file\n")
    monkeypatch.setenv("JARVIS_ZK_AUTH", "jarvis:inline-secret")
    monkeypatch.setenv("JARVIS_ZK_AUTH_FILE", str(secret))
    code, _, err = _run(capsys, "config", "check")
    assert code == EXIT_USAGE
    assert "'zk_auth' (JARVIS_ZK_AUTH) and 'zk_auth_file' (JARVIS_ZK_AUTH_FILE)" in err
    assert "inline-secret" not in err
    assert "from-a-file" not in err


def test_an_unknown_setting_in_the_file_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "jarvis.toml"
    config.write_text('zone = "a"\nzk_timeout = 3\n')
    code, _, err = _run(capsys, "config", "check", "--config", str(config))
    assert code == EXIT_USAGE
    assert "unknown setting(s): zk_timeout" in err


def test_config_check_prints_effective_settings_and_sources_with_secrets_masked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "jarvis.toml"
    config.write_text('zone = "from-file"\ncluster = "from-file"\ntick = 0.5\n')
    monkeypatch.setenv("JARVIS_ZONE", "from-env")
    monkeypatch.setenv("JARVIS_TICK", "0.25")
    monkeypatch.setenv("JARVIS_ZK_AUTH", "jarvis:zk-secret-value")
    monkeypatch.setenv("JARVIS_REDIS", "redis://jarvis:redis-secret-value@redis:6379/0")
    monkeypatch.setenv("JARVIS_HTTP_TOKENS", "token-secret-value-1,token-secret-value-2")
    monkeypatch.setenv("JARVIS_ZONNE", "typo")
    code, out, err = _run(
        capsys, "config", "check", "--json", "--config", str(config), "--tick", "2"
    )
    assert code == EXIT_OK, err
    report = json.loads(out)
    settings, sources = report["settings"], report["sources"]
    assert (settings["zone"], sources["zone"]) == ("from-env", "environment")
    assert (settings["cluster"], sources["cluster"]) == ("from-file", f"config file {config}")
    assert (settings["tick"], sources["tick"]) == (2.0, "command line")
    assert (settings["namespace"], sources["namespace"]) == ("jarvis", "default")
    assert settings["zk_auth"] == "***"
    assert settings["redis"] == "redis://jarvis:***@redis:6379/0"
    assert settings["http_tokens"] == ["***", "***"]
    assert "secret-value" not in out + err
    assert "JARVIS_ZONNE is not a Jarvis setting" in err

    code, out, _ = _run(capsys, "config", "check", "--config", str(config))
    assert code == EXIT_OK
    assert "configuration is valid" in out
    assert "secret-value" not in out


def test_secret_files_are_read_by_config_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "redis-password"
    empty.write_text("\n")
    monkeypatch.setenv("JARVIS_REDIS_PASSWORD_FILE", str(empty))
    code, _, err = _run(capsys, "config", "check")
    assert code == EXIT_USAGE
    assert "'redis_password_file'" in err
    assert "is empty" in err


def test_cluster_mode_needs_a_tcp_url_and_waits_for_one_replica_by_default() -> None:
    with pytest.raises(ConfigError, match="redis_mode"):
        load_settings(environ={"JARVIS_REDIS_MODE": "cluster", "JARVIS_REDIS": "unix:///r.sock"})
    cluster = load_settings(environ={"JARVIS_REDIS_MODE": "cluster"})
    assert (cluster.redis_mode, cluster.min_replicas) == ("cluster", 1)
    assert load_settings(environ={}).min_replicas == 0
    chosen = load_settings(
        environ={"JARVIS_REDIS_MODE": "cluster"}, overrides={"redis_min_replicas": 2}
    )
    assert chosen.min_replicas == 2
