"""bot/storage/store_config.py reads the tracker store's configuration without Rasa:
each part against Rasa 3.6's own, which it repeats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import (
    RedisTrackerStore,
    SQLTrackerStore,
    create_engine_kwargs,
)
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import read_endpoint_config

from bot.storage import store_config
from tests.conftest import ROOT

ENVIRONMENT = {
    "OFR_DB_HOST": "127.0.0.1",
    "OFR_DB_PORT": "5432",
    "OFR_DB_NAME": "ofr_cluster",
    "OFR_DB_USER": "postgres",
    "OFR_DB_PASSWORD": "",
    "OFR_REDIS_HOST": "127.0.0.1",
    "OFR_REDIS_PORT": "6379",
    "OFR_REDIS_DB": "1",
    "OFR_REDIS_PASSWORD": "",
    "OFR_REDIS_PREFIX": "ofr",
    "OFR_SOME_NAME": "tracker-db",
}
ENDPOINTS = {
    "sqlite": "tracker_store:\n  type: bot.storage.tracker_store.SQLTrackerStore\n"
    "  dialect: sqlite\n  db: var/tracker.db\n",
    "variables": "tracker_store:\n  type: sql\n  dialect: postgresql\n"
    "  url: ${OFR_DB_HOST}\n  port: ${OFR_DB_PORT}\n  db: x${OFR_SOME_NAME}y\n"
    "  username: '${OFR_DB_USER}'\n  password: \"${OFR_DB_PASSWORD}\"\n",
    "yaml 1.2": "tracker_store:\n  store_type: redis\n  type: ignored\n"
    "  url: localhost\n  use_ssl: yes\n  db: 010\n  record_exp: 1_000\n"
    "  key_prefix: on\n  headers: {a: b}\n  token: t\n  query: {sslmode: require}\n",
    "escapes": "tracker_store:\n  type: redis\n  key_prefix: 'caf\\u00e9'\n",
    "non-ascii": "# Gruß\ntracker_store:\n  type: redis\n  key_prefix: 'caf\\u00e9'\n",
    "no store": "action_endpoint:\n  url: http://localhost:5055/webhook\n",
    "empty": "",
}


def _rasa_reads(path: Path) -> Any:
    config = read_endpoint_config(str(path), "tracker_store")
    return None if config is None else [config.type, config.url, config.kwargs]


def _ours_without_rasa(paths: List[Path]) -> List[Any]:
    """store_config's reading in a process that never loaded Rasa: Rasa teaches
    ruamel ${VARIABLE}s for the whole process, which must not help here."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from bot.storage.store_config import read_store_config\n"
        "found = []\n"
        "for name in sys.argv[1:]:\n"
        "    c = read_store_config(Path(name))\n"
        "    found.append(None if c is None else [c.type, c.url, c.kwargs])\n"
        "assert 'rasa' not in sys.modules\n"
        "print(json.dumps(found))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_endpoints_files_read_as_rasa_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    paths = [ROOT / "endpoints.yml", ROOT / "endpoints.cluster.yml"]
    for number, text in enumerate(ENDPOINTS.values()):
        paths.append(tmp_path / f"endpoints{number}.yml")
        paths[-1].write_text(text, encoding="utf-8")
    expected = [_rasa_reads(path) for path in paths]
    assert _ours_without_rasa(paths) == json.loads(json.dumps(expected))
    # What the cases are for: variables in plain scalars only, YAML 1.2, escapes.
    assert expected[3][2]["port"] == "5432" and expected[3][2]["db"] == "xtracker-dby"
    assert expected[3][2]["username"] == "${OFR_DB_USER}"
    assert expected[4][0] == "redis" and expected[4][2]["use_ssl"] == "yes"
    assert expected[5][2]["key_prefix"] == "café" and expected[-2:] == [None, None]


def test_an_unset_variable_is_refused_as_rasa_refuses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OFR_NOT_SET", raising=False)
    path = tmp_path / "endpoints.yml"
    path.write_text("tracker_store:\n  type: sql\n  url: ${OFR_NOT_SET}\n")
    with pytest.raises(Exception, match="OFR_NOT_SET"):
        read_endpoint_config(str(path), "tracker_store")
    with pytest.raises(store_config.StoreUnavailable, match="OFR_NOT_SET"):
        store_config.read_store_config(path)


def test_the_events_table_is_rasa_s() -> None:
    def shape(table: sa.Table) -> List[Any]:
        return [
            (
                c.name,
                type(c.type),
                getattr(c.type, "length", None),
                c.nullable,
                c.primary_key,
                bool(c.index),
            )
            for c in table.columns
        ]

    rasa_table = SQLTrackerStore.SQLEvent.__table__
    assert store_config.EVENTS.name == rasa_table.name
    assert shape(store_config.EVENTS) == shape(rasa_table)


URLS: List[Dict[str, Any]] = [
    {},
    {"dialect": "sqlite", "db": "var/tracker.db"},
    {"dialect": "postgresql", "host": "127.0.0.1", "port": "5432", "db": "d"},
    {"dialect": "postgresql", "host": "db:6543", "port": 5432, "db": "d"},
    {"dialect": "postgresql", "host": "postgresql://u:p@h:1/x", "db": "d"},
    {
        "dialect": "postgresql",
        "host": "h",
        "db": "d",
        "username": "u",
        "password": "p w",
        "login_db": "postgres",
        "query": {"sslmode": "require"},
    },
]


@pytest.mark.parametrize("options", URLS)
def test_sql_urls_are_rasa_s(options: Dict[str, Any]) -> None:
    ours, rasa = store_config.sql_url(**options), SQLTrackerStore.get_db_url(**options)
    assert type(ours) is type(rasa)
    assert str(ours) == str(rasa)
    if not isinstance(ours, str):
        assert ours == rasa


@pytest.mark.parametrize(
    "url",
    ["sqlite:///x.db", "postgresql://h/d", SQLTrackerStore.get_db_url("postgresql")],
)
def test_engine_options_are_rasa_s(url: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for variables in (
        {},
        {"POSTGRESQL_SCHEMA": "s", "SQL_POOL_SIZE": "5", "SQL_MAX_OVERFLOW": "7"},
    ):
        for name in ("POSTGRESQL_SCHEMA", "SQL_POOL_SIZE", "SQL_MAX_OVERFLOW"):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        assert store_config.engine_options(url) == create_engine_kwargs(url)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"port": "6380", "db": 2, "password": "x", "key_prefix": "ofr"},
        {"username": "u", "key_prefix": "not-alnum", "use_ssl": True},
        {"key_prefix": "", "record_exp": 5, "ssl_ca_certs": "/ca.pem"},
    ],
)
def test_redis_connections_are_rasa_s(options: Dict[str, Any]) -> None:
    rasa = RedisTrackerStore(Domain.empty(), host="h", **options)
    client, prefix = store_config.redis_connection("h", **options)
    assert prefix == rasa.key_prefix
    ours_pool, rasa_pool = client.connection_pool, rasa.red.connection_pool
    assert ours_pool.connection_class is rasa_pool.connection_class
    assert ours_pool.connection_kwargs == rasa_pool.connection_kwargs


def test_store_kinds_are_rasa_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The classes known by name are what importing them says; other classes are
    imported and told by their base classes."""
    import importlib

    for path, kind in store_config.KNOWN_CLASSES.items():
        module, _, name = path.rpartition(".")
        store_class = getattr(importlib.import_module(module), name)
        assert issubclass(store_class, SQLTrackerStore) == (kind == "sql"), path
        assert issubclass(store_class, RedisTrackerStore) == (kind == "redis"), path
    (tmp_path / "own_stores.py").write_text(
        "from bot.storage.tracker_store import SQLTrackerStore, RedisTrackerStore\n"
        "class Mine(SQLTrackerStore): pass\n"
        "class Yours(RedisTrackerStore): pass\n"
        "class Other: pass\n"
        "not_a_class = 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert store_config.store_kind("own_stores.Mine") == "sql"
    assert store_config.store_kind("own_stores.Yours") == "redis"
    assert store_config.store_kind("own_stores.Other") == "own_stores.other"
    assert store_config.store_kind("SQL") == "sql"
    for broken in (
        "own_stores.Missing",
        "no_such_module.Store",
        "own_stores.not_a_class",
    ):
        with pytest.raises(store_config.StoreUnavailable, match="own_stores|no_such"):
            store_config.store_kind(broken)
