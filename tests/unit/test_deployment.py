"""The Docker files: health from /ready, no password in them, /metrics not
published on every interface, and the image built from pinned versions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_health_is_checked_on_ready() -> None:
    test = " ".join(compose()["services"]["invtrack"]["healthcheck"]["test"])
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "/ready" in test
    assert "/ready" in dockerfile.split("HEALTHCHECK", 1)[1]


def test_the_database_password_is_no_literal() -> None:
    services = compose()["services"]
    password = services["db"]["environment"]["POSTGRES_PASSWORD"]
    url = services["invtrack"]["environment"]["INVTRACK_DATABASE_URL"]

    assert password.startswith("${")
    assert re.search(r"invtrack:\$\{[A-Z_]+[^}]*\}@", url), url


def test_the_port_with_metrics_is_not_published_on_every_interface() -> None:
    for mapping in compose()["services"]["invtrack"]["ports"]:
        host = mapping.rsplit(":", 2)[0]
        assert host not in ("", "0.0.0.0"), mapping  # noqa: S104
        assert "127.0.0.1" in host


def test_the_image_installs_pinned_versions_of_every_dependency() -> None:
    pins = dict(
        line.split("==")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    assert "-c constraints.txt" in (ROOT / "Dockerfile").read_text()
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower()
        assert name in pins, name


def test_the_open_files_limit_fits_the_default_connection_bound() -> None:
    from api.cli.gate import connection_bound
    from api.settings import Settings

    soft = compose()["services"]["invtrack"]["ulimits"]["nofile"]["soft"]
    defaults = Settings()
    bound = connection_bound(defaults.max_connections, defaults.pool_size, soft)
    assert bound == defaults.max_connections
    assert connection_bound(1000, 10, 256) == 172  # the README's example


def test_the_replica_is_an_optional_streaming_standby_of_db() -> None:
    services = compose()["services"]
    replica = services["replica"]
    script = " ".join(replica["command"])
    allowed = (ROOT / "deploy/postgres/allow-replication.sh").read_text()

    assert replica["profiles"] == ["replica"]
    assert replica["image"].startswith("postgres:")
    assert "pg_basebackup -h db" in script
    assert " -R " in script
    assert "hot_standby=on" in script
    assert replica["environment"]["PGPASSWORD"].startswith("${")
    assert "host replication" in allowed
    assert any("allow-replication.sh" in volume for volume in services["db"]["volumes"])
    assert services["invtrack"]["environment"]["INVTRACK_READ_DATABASE_URL"].startswith("${")
    assert "replica" not in services["invtrack"].get("depends_on", {})
