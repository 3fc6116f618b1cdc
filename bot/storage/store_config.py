"""Rasa's tracker store as an endpoints file configures it, read without Rasa.

The staff console and the tools (make purge, unanswered, tickets, feedback) read
the conversations the Rasa server keeps. Importing Rasa for that cost them about
1 s and 100 MB (``rasa.core.tracker_store``), and the console must not load Rasa at
all (docs/architecture.md). So this module repeats the few parts of Rasa 3.6 that
they need; tests/test_store_config.py checks each against Rasa's own:

- the endpoints file: YAML 1.2 with ``${VARIABLE}``s
  (``rasa.utils.endpoints.read_endpoint_config``);
- the SQL store's ``events`` table, its URL and engine options (``SQLTrackerStore``);
- the Redis store's connection and key prefix (``RedisTrackerStore``);
- which kind of store a ``type:`` names, without importing Rasa's or the project's
  store classes.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

import sqlalchemy as sa
from ruamel import yaml
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.resolver import VersionedResolver


class StoreUnavailable(Exception):
    """The tracker store cannot be read; the message is one sentence for the user."""


# Rasa's SQLTrackerStore.SQLEvent: one row per event of a conversation.
EVENTS = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)
REDIS_KEY_PREFIX = (
    "tracker:"  # rasa.core.tracker_store.DEFAULT_REDIS_TRACKER_STORE_KEY_PREFIX
)
# rasa.core.constants and rasa.core.tracker_store: PostgreSQL's environment.
POSTGRESQL_SCHEMA = "POSTGRESQL_SCHEMA"
POSTGRESQL_POOL_SIZE = "SQL_POOL_SIZE"
POSTGRESQL_MAX_OVERFLOW = "SQL_MAX_OVERFLOW"
POSTGRESQL_DEFAULT_POOL_SIZE = 50
POSTGRESQL_DEFAULT_MAX_OVERFLOW = 100

# Store classes by the name endpoints.yml gives them: "sql", "redis", or None for
# neither. Any other class is imported to tell (as Rasa would import it).
RASA_SQL = "rasa.core.tracker_store.SQLTrackerStore"
RASA_REDIS = "rasa.core.tracker_store.RedisTrackerStore"
KNOWN_CLASSES: Dict[str, Optional[str]] = {
    RASA_SQL: "sql",
    RASA_REDIS: "redis",
    "rasa.core.tracker_store.InMemoryTrackerStore": None,
    "bot.storage.tracker_store.SQLTrackerStore": "sql",
    "bot.storage.tracker_store.RedisTrackerStore": "redis",
    "bot.storage.tracker_store.InMemoryTrackerStore": None,
}


@dataclass
class StoreConfig:
    """One section of an endpoints file, split as Rasa's ``EndpointConfig`` splits it."""

    type: Optional[str]
    url: Optional[str]
    kwargs: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> StoreConfig:
        options = dict(data)
        url = options.pop("url", None)
        for named in ("params", "headers", "basic_auth", "token", "token_name"):
            options.pop(named, None)
        options.pop("cafile", None)
        kind = options.pop("type", None)
        kind = options.pop("store_type", kind)
        return cls(kind, url, options)


# Rasa reads ${VARIABLE} in plain (unquoted) scalars (rasa.shared.utils.io).
_ENV_VAR = re.compile(r"^(.*)\$\{(.*)\}(.*)$")


class _Resolver(VersionedResolver):
    pass


class _Constructor(SafeConstructor):
    pass


def _env_var(loader: SafeConstructor, node: Any) -> str:
    value = loader.construct_scalar(node)
    expanded = os.path.expandvars(value)
    missing = [w for w in expanded.split() if w.startswith("$") and w in value]
    if missing:
        raise StoreUnavailable(
            f"The environment variables {missing} in {value!r} are not set."
        )
    return expanded


_Resolver.add_implicit_resolver("!env_var", _ENV_VAR, None)
_Constructor.add_constructor("!env_var", _env_var)


def read_yaml(text: str) -> Any:
    """YAML 1.2 as Rasa reads its configuration files (``read_yaml``)."""
    if all(ord(character) < 128 for character in text):
        # Rasa's way of reading \\u escapes (emoji) in an ASCII file.
        text = (
            text.encode("utf-8")
            .decode("raw_unicode_escape")
            .encode("utf-16", "surrogatepass")
            .decode("utf-16")
        )
    parser = yaml.YAML(typ="safe", pure=True)
    parser.Resolver = _Resolver
    parser.Constructor = _Constructor
    parser.version = (1, 2)  # type: ignore[assignment]
    return parser.load(text) or {}


def read_store_config(
    endpoints: Path, section: str = "tracker_store"
) -> Optional[StoreConfig]:
    """The section of an endpoints file; None when the file has none."""
    try:
        content = read_yaml(endpoints.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise StoreUnavailable(f"Cannot read {endpoints} ({error}).") from error
    if not isinstance(content, dict):
        raise StoreUnavailable(f"{endpoints} is not a YAML mapping of endpoints.")
    data = content.get(section)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise StoreUnavailable(f"{section} in {endpoints} is not a mapping.")
    return StoreConfig.from_dict(data)


def store_kind(store_type: Optional[str]) -> str:
    """ "sql" or "redis" for Rasa's stores and their subclasses given by module path;
    else the type, lower case."""
    kind = (store_type or "").lower()
    if "." not in kind or store_type is None:
        return kind
    if store_type in KNOWN_CLASSES:
        return KNOWN_CLASSES[store_type] or kind
    store_class = _class_at(store_type)
    names = {f"{c.__module__}.{c.__qualname__}" for c in inspect.getmro(store_class)}
    if RASA_SQL in names:
        return "sql"
    if RASA_REDIS in names:
        return "redis"
    return kind


def _class_at(path: str) -> type:
    """The class a module path names (Rasa's ``class_from_module_path``)."""
    module_name, _, class_name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), class_name, None)
        if found is None:
            raise ImportError(f"Cannot retrieve class from path {path}.")
    except (ImportError, AttributeError, ValueError) as error:
        raise StoreUnavailable(
            f"The tracker store class {path!r} cannot be loaded ({error})."
        ) from error
    if not inspect.isclass(found):
        raise StoreUnavailable(f"The tracker store type {path!r} is not a class.")
    return found


def sql_url(
    dialect: str = "sqlite",
    host: Optional[str] = None,
    port: Optional[int] = None,
    db: str = "rasa.db",
    username: Optional[str] = None,
    password: Optional[str] = None,
    login_db: Optional[str] = None,
    query: Optional[Dict[str, Any]] = None,
) -> str | sa.engine.URL:
    """The database URL (``SQLTrackerStore.get_db_url``)."""
    if host and "://" in host:
        return host  # a whole URL in the host
    if host:
        parsed = urlsplit(f"scheme://{host}")  # the host may carry the port
        port = parsed.port or port
        host = parsed.hostname or host
    return sa.engine.URL.create(
        dialect, username, password, host, port, login_db or db, query or {}
    )


def engine_options(url: str | sa.engine.URL) -> Dict[str, Any]:
    """``create_engine`` options for the URL (Rasa's ``create_engine_kwargs``)."""
    postgresql = (
        "postgresql" in url if isinstance(url, str) else url.drivername == "postgresql"
    )
    if not postgresql:
        return {}
    options: Dict[str, Any] = {}
    schema = os.environ.get(POSTGRESQL_SCHEMA)
    if schema:
        options["connect_args"] = {"options": f"-csearch_path={schema}"}
    options["pool_size"] = int(
        os.environ.get(POSTGRESQL_POOL_SIZE, POSTGRESQL_DEFAULT_POOL_SIZE)
    )
    options["max_overflow"] = int(
        os.environ.get(POSTGRESQL_MAX_OVERFLOW, POSTGRESQL_DEFAULT_MAX_OVERFLOW)
    )
    return options


def redis_connection(
    host: str = "localhost",
    port: int = 6379,
    db: int = 0,
    username: Optional[str] = None,
    password: Optional[str] = None,
    key_prefix: Optional[str] = None,
    use_ssl: bool = False,
    ssl_keyfile: Optional[str] = None,
    ssl_certfile: Optional[str] = None,
    ssl_ca_certs: Optional[str] = None,
    **_other: Any,
) -> Tuple[Any, str]:
    """The client and key prefix ``RedisTrackerStore`` would use (it ignores other
    options too)."""
    import redis

    client = redis.StrictRedis(
        host=host,
        port=port,
        db=db,
        username=username,
        password=password,
        ssl=use_ssl,
        ssl_keyfile=ssl_keyfile,
        ssl_certfile=ssl_certfile,
        ssl_ca_certs=ssl_ca_certs,
        decode_responses=True,
    )
    prefix = REDIS_KEY_PREFIX
    if key_prefix and isinstance(key_prefix, str) and key_prefix.isalnum():
        prefix = f"{key_prefix}:{REDIS_KEY_PREFIX}"
    return client, prefix
