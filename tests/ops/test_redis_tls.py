"""The Redis TLS settings reach the client: a rediss:// URL is verified against
``redis_tls_ca_file``, and ``redis_tls_cert_file``/``_key_file`` present a client
certificate to a Redis that requires one (``tls-auth-clients yes``)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from jarvis.config import Settings
from jarvis.connections import redis_client
from jarvis.testing.servers import RedisServer, free_port


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _certificate(directory: Path, name: str, subject: str, san: str | None = None) -> None:
    """``name``.key and ``name``.crt, signed by ``ca`` (already in ``directory``)."""
    _openssl(
        "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key", cwd=directory
    )
    _openssl(
        "req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=directory
    )
    extra = []
    if san is not None:
        (directory / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        extra = ["-extfile", f"{name}.ext"]
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "1", "-out", f"{name}.crt", *extra, cwd=directory,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=directory)
    _openssl(
        "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=jarvis-test-ca",
        "-days", "1", "-out", "ca.crt", cwd=directory,
    )  # fmt: skip
    _certificate(directory, "server", "/CN=127.0.0.1", san="IP:127.0.0.1")
    _certificate(directory, "client", "/CN=jarvis")
    return directory


@pytest.fixture(scope="module")
def tls_redis(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    tls_port = free_port()
    config = "\n".join(
        [
            f"tls-port {tls_port}",
            f"tls-cert-file {pki / 'server.crt'}",
            f"tls-key-file {pki / 'server.key'}",
            f"tls-ca-cert-file {pki / 'ca.crt'}",
            "tls-auth-clients yes",
        ]
    )
    server = RedisServer(tmp_path_factory.mktemp("tls-redis"), extra_config=config)
    server.start()
    try:
        yield tls_port, pki
    finally:
        server.stop()


def _ping(port: int, **settings: Any) -> bool:
    client = redis_client(Settings(redis=f"rediss://127.0.0.1:{port}/0", **settings))
    try:
        return bool(client.ping())
    finally:
        client.close()


def test_tls_with_the_ca_and_a_client_certificate_connects(tls_redis: tuple[int, Path]) -> None:
    port, pki = tls_redis
    assert _ping(
        port,
        redis_tls_ca_file=pki / "ca.crt",
        redis_tls_cert_file=pki / "client.crt",
        redis_tls_key_file=pki / "client.key",
    )


def test_tls_without_a_client_certificate_is_refused(tls_redis: tuple[int, Path]) -> None:
    port, pki = tls_redis
    with pytest.raises(redis.ConnectionError):
        _ping(port, redis_tls_ca_file=pki / "ca.crt")


def test_tls_verifies_the_server_against_the_configured_ca(
    tls_redis: tuple[int, Path], tmp_path: Path
) -> None:
    port, pki = tls_redis
    client_cert = {
        "redis_tls_cert_file": pki / "client.crt",
        "redis_tls_key_file": pki / "client.key",
    }
    other_ca = tmp_path / "other-ca.crt"
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "o.key", cwd=tmp_path)
    _openssl(
        "req", "-x509", "-new", "-key", "o.key", "-subj", "/CN=other", "-days", "1",
        "-out", str(other_ca), cwd=tmp_path,
    )  # fmt: skip
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        _ping(port, redis_tls_ca_file=other_ca, **client_cert)
    # Verification off (a test rig's self-signed server): the same CA mismatch connects.
    assert _ping(port, redis_tls_ca_file=other_ca, redis_tls_verify=False, **client_cert)
