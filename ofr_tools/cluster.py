"""The steps of scripts/run-cluster.sh that need Python.

    .venv/bin/python -m ofr_tools.cluster prepare-stores ENDPOINTS
    .venv/bin/python -m ofr_tools.cluster render-nginx --template T --output F \\
        --var-dir D --listen HOST:PORT RASA_PORT...
    .venv/bin/python -m ofr_tools.cluster redis-url

They read the cluster's settings from the environment, as run-cluster.sh exports
them with its defaults (``OFR_DB_*``, ``OFR_REDIS_*``, ``OFR_NGINX_RATE``,
``OFR_NGINX_BURST``; docs/deployment.md). A problem ends the command with one
sentence on stderr that says what to do, and exit code 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

# run-cluster.sh exports these before it calls prepare-stores and redis-url.
DB_VARIABLES = ("OFR_DB_HOST", "OFR_DB_PORT", "OFR_DB_NAME", "OFR_DB_USER")
REDIS_VARIABLES = ("OFR_REDIS_HOST", "OFR_REDIS_PORT", "OFR_REDIS_DB")
NGINX_LIMITS = {
    "@RATE@": ("OFR_NGINX_RATE", "10"),
    "@BURST@": ("OFR_NGINX_BURST", "50"),
}


def fail(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(1)


def setting(name: str) -> str:
    """One cluster setting from the environment; a missing one is the caller's slip
    (run-cluster.sh always sets it), said plainly rather than as a KeyError."""
    value = os.environ.get(name)
    if value is None:
        fail(f"{name} is not set: start the cluster with scripts/run-cluster.sh.")
    return value


def reason(error: BaseException) -> str:
    """The first line of a driver's error, without SQLAlchemy's wrapping."""
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0].rstrip(".") if text else type(error).__name__


def check_names() -> None:
    """The database name goes into CREATE DATABASE, the prefix into Rasa's keys."""
    database = setting("OFR_DB_NAME")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", database):
        fail(
            f"OFR_DB_NAME={database!r} is not a plain database name: use letters, digits and _."
        )
    prefix = setting("OFR_REDIS_PREFIX")
    if not prefix.isalnum():
        fail(
            f"OFR_REDIS_PREFIX={prefix!r} must be letters and digits only (Rasa ignores any other prefix)."
        )


def check_lock_store(endpoints: str) -> None:
    """Every instance must use the same shared lock store, and it must load: an
    in-memory one would let two instances run turns of one conversation at once."""
    import yaml

    try:
        with open(endpoints, encoding="utf-8") as file:
            config = yaml.safe_load(file) or {}
    except (OSError, yaml.YAMLError) as error:
        fail(f"{endpoints} cannot be read ({reason(error)}): fix it or OFR_ENDPOINTS.")
    lock_store = config.get("lock_store") if isinstance(config, dict) else None
    lock_type = lock_store.get("type") if isinstance(lock_store, dict) else None
    if lock_type in (None, "in_memory"):
        fail(
            f"{endpoints} has no shared lock_store: the instances need a Redis lock store (see endpoints.cluster.yml)."
        )
    if "." in str(lock_type):
        module, _, attribute = str(lock_type).rpartition(".")
        try:
            getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as error:
            fail(
                f'The lock store {lock_type} in {endpoints} cannot be loaded ({error}): check its type (docs/deployment.md, "The lock store").'
            )


def check_redis() -> None:
    """Ping the lock store's Redis now: Rasa would only fail at the first message."""
    import redis

    host, port, db = (setting(name) for name in REDIS_VARIABLES)
    try:
        redis.Redis(
            host=host,
            port=int(port),
            db=int(db),
            password=setting("OFR_REDIS_PASSWORD") or None,
            socket_timeout=5,
            socket_connect_timeout=5,
        ).ping()
    except (redis.RedisError, ValueError) as error:
        fail(
            f"Redis at {host}:{port} (db {db}) cannot be used: {reason(error)}. Start "
            "Redis, or set OFR_REDIS_HOST, OFR_REDIS_PORT, OFR_REDIS_DB and "
            "OFR_REDIS_PASSWORD."
        )


def prepare_database() -> None:
    """Create the database and the tracker store's table once, here: Rasa would retry
    a missing database forever without saying why, and two instances creating the
    table at the same moment can fail."""
    import sqlalchemy as sa
    from sqlalchemy.engine.url import URL

    host, port, database, user = (setting(name) for name in DB_VARIABLES)
    password = setting("OFR_DB_PASSWORD")

    def engine(name: str, **kwargs: Any) -> sa.engine.Engine:
        url = URL.create(
            "postgresql",
            username=user or None,
            password=password or None,
            host=host,
            port=int(port),
            database=name,
        )
        return sa.create_engine(url, connect_args={"connect_timeout": 5}, **kwargs)

    try:
        try:
            with engine(database).connect():
                pass
        except sa.exc.OperationalError as error:
            if "does not exist" not in str(error):
                raise
            admin = engine("postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
            print(f"Created the PostgreSQL database {database}.")
        from rasa.core.tracker_store import SQLTrackerStore

        SQLTrackerStore.Base.metadata.create_all(engine(database))
    except (sa.exc.SQLAlchemyError, ValueError) as error:
        fail(
            f"PostgreSQL at {host}:{port} (database {database}, user {user}) cannot be "
            f"used: {reason(error)}. Start PostgreSQL, or set OFR_DB_HOST, OFR_DB_PORT, "
            "OFR_DB_NAME, OFR_DB_USER and OFR_DB_PASSWORD."
        )


def prepare_stores(endpoints: str) -> None:
    """Everything the instances share must work before the first one starts."""
    check_names()
    check_lock_store(endpoints)
    check_redis()
    prepare_database()


def render_nginx(
    template: Path, output: Path, var_dir: str, listen: str, ports: list[str]
) -> None:
    """Fill in deploy/nginx.conf.template: this cluster's folder, address, instances
    and per-address limits (OFR_NGINX_RATE requests a second, bursts of
    OFR_NGINX_BURST)."""
    limits = {}
    for key, (name, default) in NGINX_LIMITS.items():
        value = os.environ.get(name) or default
        if not value.isdigit() or int(value) < 1:
            fail(f"{name}={value!r} must be a whole number, at least 1.")
        limits[key] = value
    servers = "\n".join(f"        server 127.0.0.1:{port};" for port in ports)
    values = {
        "@VAR_DIR@": var_dir,
        "@LISTEN@": listen,
        "@UPSTREAM_SERVERS@": servers,
        **limits,
    }
    try:
        text = template.read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace(key, value)
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(
            f"The nginx configuration {output} cannot be written from {template}: {error}."
        )


def redis_url() -> str:
    """The cluster's Redis as a URL, for OFR_REDIS_URL (the Telegram channel's long
    button payloads, bot/channels/telegram/buttons.py), so that a button sent by one
    instance works when its press reaches another.

    It is the lock store's Redis and db (OFR_REDIS_DB, 1 by default): the buttons'
    keys (``ofr:telegram-button:…``) never meet the locks' (``<prefix>:lock:…``),
    and db 0, where Rasa's Redis tracker store keeps conversations by default,
    stays out of it.
    """
    host, port, db = (setting(name) for name in REDIS_VARIABLES)
    password = setting("OFR_REDIS_PASSWORD")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/{db}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ofr_tools.cluster",
        description="The steps of scripts/run-cluster.sh that need Python.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    stores = commands.add_parser(
        "prepare-stores",
        help="check the lock store and Redis; create the PostgreSQL database",
    )
    stores.add_argument("endpoints", help="the instances' endpoints file")
    nginx = commands.add_parser("render-nginx", help="write nginx's configuration")
    nginx.add_argument("--template", type=Path, required=True)
    nginx.add_argument("--output", type=Path, required=True)
    nginx.add_argument("--var-dir", required=True, help="nginx's folder")
    nginx.add_argument("--listen", required=True, help="the proxy's HOST:PORT")
    nginx.add_argument("ports", nargs="+", help="the Rasa instances' ports")
    commands.add_parser("redis-url", help="print the cluster's Redis as a URL")
    args = parser.parse_args(argv)
    if args.command == "prepare-stores":
        prepare_stores(args.endpoints)
    elif args.command == "render-nginx":
        render_nginx(args.template, args.output, args.var_dir, args.listen, args.ports)
    else:
        print(redis_url())


if __name__ == "__main__":
    main()
