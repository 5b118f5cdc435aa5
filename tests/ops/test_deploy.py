"""The deployment files agree with Jarvis and with each other: a drain fits in the grace
period, readiness is /readyz, members spread over zones, every JARVIS_* name exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from jarvis.config import CLI_VARIABLES, Settings, env_name

DEPLOY = Path(__file__).parents[2] / "deploy"
KNOWN = {env_name(n) for n in Settings.model_fields} | CLI_VARIABLES


def _documents() -> dict[str, dict[str, Any]]:
    kustomization = yaml.safe_load((DEPLOY / "kubernetes" / "kustomization.yaml").read_text())
    documents = {}
    for name in kustomization["resources"]:
        for document in yaml.safe_load_all((DEPLOY / "kubernetes" / name).read_text()):
            documents[document["kind"]] = document
    return documents


def _jarvis_variables(text: str) -> set[str]:
    return set(re.findall(r"\bJARVIS_[A-Z_]+\b", text))


def test_the_grace_period_covers_the_prestop_drain_and_the_sigterm_drain() -> None:
    documents = _documents()
    settings = tomllib.loads(documents["ConfigMap"]["data"]["jarvis.toml"])
    assert set(settings) <= set(Settings.model_fields)
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pre_stop = " ".join(container["lifecycle"]["preStop"]["exec"]["command"])
    match = re.search(r"jarvis drain \"\$JARVIS_MEMBER\" --timeout (\d+)", pre_stop)
    assert match, pre_stop
    drain_timeout = settings.get("drain_timeout", Settings.model_fields["drain_timeout"].default)
    assert pod["terminationGracePeriodSeconds"] > int(match.group(1)) + drain_timeout


def test_members_are_ready_on_readyz_spread_over_zones_and_disrupted_one_at_a_time() -> None:
    documents = _documents()
    deployment = documents["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    zone_spread = [
        c for c in pod["topologySpreadConstraints"] if c["topologyKey"].endswith("/zone")
    ]
    assert zone_spread == [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "jarvis"}},
        }
    ]
    assert deployment["spec"]["replicas"] >= 3
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budget = documents["PodDisruptionBudget"]["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"] == deployment["spec"]["selector"]


def test_every_jarvis_variable_in_the_deployment_files_is_a_setting() -> None:
    for path in (DEPLOY / "kubernetes").glob("*.yaml"):
        assert _jarvis_variables(path.read_text()) <= KNOWN, path.name
    unit = (DEPLOY / "systemd" / "jarvis.service").read_text()
    assert _jarvis_variables(unit) <= KNOWN
    stop = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert stop > Settings.model_fields["drain_timeout"].default
    assert "ExecStart=/opt/jarvis/.venv/bin/jarvis run" in unit
    assert "RestartPreventExitStatus=2" in unit
