"""How fast the console's conversation pages are on a large tracker store: 10,000
conversations on SQLite and on PostgreSQL, p50 and p95 per page.

    .venv/bin/python bench/console_pages.py [--conversations 10000] [--requests 50]
        [--stores sqlite,postgresql] [--postgres postgresql://postgres@127.0.0.1:5432]

Fills each store with made-up conversations as the bot writes them
(bench/synthetic_conversations.py), then asks the real console app (Flask's test
client, logged in as an editor) for the conversations list (first page, a later
page, needs review, a channel and a language) and for single conversations, each
``--requests`` times after one request that builds the console's index of the
store (printed apart: it happens once per console process). PostgreSQL gets a
database of its own (``ofr_bench_pages``), dropped at the end; where no PostgreSQL
answers, that store is skipped with the reason. The target (issue 31) is a p95 of
at most 300 ms. A benchmark: it prints numbers and never fails on them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import sqlalchemy as sa
from synthetic_conversations import fill

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a long benchmark password"
DATABASE = "ofr_bench_pages"
TARGET_MS = 300.0
LIST_PAGES = {
    "list, first page": "/conversations",
    "list, page 10": "/conversations?page=10",
    "list, needs review": "/conversations?review=1",
    "list, telegram + de": "/conversations?channel=telegram&lang=de",
}


def endpoints_for(options: Dict[str, Any]) -> str:
    lines = ["tracker_store:", "  type: bot.storage.tracker_store.SQLTrackerStore"]
    lines += [f"  {key}: {value}" for key, value in options.items() if value]
    return "\n".join(lines) + "\n"


@contextmanager
def postgres(url: str) -> Iterator[Dict[str, Any]]:
    """Options of a fresh PostgreSQL database for the store, dropped afterwards."""
    admin = sa.create_engine(f"{url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{DATABASE}"')
    parsed = admin.url
    try:
        yield {
            "dialect": "postgresql",
            "url": parsed.host,
            "port": parsed.port or 5432,
            "db": DATABASE,
            "username": parsed.username,
            "password": parsed.password,
        }
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(
                f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'
            )
        admin.dispose()


def open_store(options: Dict[str, Any]) -> Any:
    """The bot's SQL tracker store with the endpoints file's ``options``."""
    from rasa.shared.core.domain import Domain

    from bot.storage.tracker_store import SQLTrackerStore

    store_options = {k: v for k, v in options.items() if k != "url"}
    if "url" in options:
        store_options["host"] = options["url"]
    return SQLTrackerStore(Domain.load(str(ROOT / "domain.yml")), **store_options)


def analysed(store: Any) -> None:
    """PostgreSQL's statistics and visibility map, as autovacuum keeps them."""
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        ) as connection:
            connection.exec_driver_sql("VACUUM ANALYZE events")


def logged_in(var: Path) -> Any:
    """The console's test client, logged in as an editor."""
    from console.accounts import Accounts
    from console.app import ConsoleConfig, create_app

    Accounts(var / "staff.db").set_user("bench", "editor", PASSWORD)
    app = create_app(
        ConsoleConfig(ROOT, var, ROOT / "data" / "events.yml", warm_worker=False)
    )
    client = app.test_client()
    page = client.get("/login").text
    token = re.search(r'name="login_csrf" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/login",
        data={"name": "bench", "password": PASSWORD, "login_csrf": token, "next": "/"},
    )
    if answer.status_code != 302:
        raise RuntimeError("The benchmark could not log in to the console.")
    return client


def timed(client: Any, path: str) -> float:
    """Milliseconds for one page; a page that is not 200 stops the benchmark."""
    started = time.perf_counter()
    answer = client.get(path)
    spent = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{path} answered {answer.status_code}.")
    return spent


def measure(client: Any, requests: int) -> Dict[str, List[float]]:
    found: Dict[str, List[float]] = {}
    found["first request (builds the index)"] = [timed(client, "/conversations")]
    for name, path in LIST_PAGES.items():
        found[name] = [timed(client, path) for _ in range(requests)]
    keys: List[str] = []
    page = 1
    while len(keys) < requests:
        text = client.get(f"/conversations?period=all&page={page}").text
        more = re.findall(r'href="/conversations/([0-9a-f]{32})', text)
        keys += [key for key in more if key not in keys]
        if not more:
            break
        page += 7
    found["a conversation"] = [timed(client, f"/conversations/{k}") for k in keys]
    text = client.get("/conversations?review=1").text
    flagged = re.findall(r'href="/conversations/([0-9a-f]{32})', text)
    if flagged:
        found["a conversation needing review"] = [
            timed(client, f"/conversations/{flagged[n % len(flagged)]}")
            for n in range(requests)
        ]
    return found


def percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def report(store: str, times: Dict[str, List[float]]) -> None:
    print(f"\n{store}")
    print(f"  {'page':<34} {'n':>4} {'p50 ms':>8} {'p95 ms':>8}  target")
    for name, values in times.items():
        p50, p95 = statistics.median(values), percentile(values, 0.95)
        verdict = "" if len(values) == 1 else ("ok" if p95 <= TARGET_MS else "MISSED")
        print(f"  {name:<34} {len(values):>4} {p50:>8.0f} {p95:>8.0f}  {verdict}")


@contextmanager
def _options(kind: str, url: str, var: Path) -> Iterator[Dict[str, Any]]:
    if kind == "sqlite":
        yield {"dialect": "sqlite", "db": str(var / "tracker.db")}
        return
    with postgres(url) as options:
        yield options


@contextmanager
def stores(kinds: List[str], url: str, work: Path) -> Iterator[Dict[str, Any]]:
    """kind → the bot's store, for the kinds whose database answers, each with a
    var folder (``work/<kind>``) whose endpoints file names it."""
    opened: Dict[str, Any] = {}
    with ExitStack() as stack:
        for kind in kinds:
            var = work / kind
            var.mkdir()
            try:
                options = stack.enter_context(_options(kind, url, var))
                opened[kind] = open_store(options)
            except sa.exc.OperationalError as error:
                reason = " ".join(str(error.orig).split())
                print(f"{kind}: skipped, the database is not reachable ({reason}).")
                continue
            (var / "endpoints.yml").write_text(endpoints_for(options), "utf-8")
        try:
            yield opened
        finally:
            for store in opened.values():
                store.engine.dispose()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "OFR_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432"
        ),
        help="a PostgreSQL server (no database) where the benchmark may make one",
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # Rasa's and SQLAlchemy's, on import
    print(
        f"Console conversation pages with {args.conversations:,} conversations, "
        f"{args.requests} requests per page; target p95 ≤ {TARGET_MS:.0f} ms"
    )
    work = Path(tempfile.mkdtemp(prefix="ofr-console-pages-"))
    kinds = [kind.strip() for kind in args.stores.split(",") if kind.strip()]
    try:
        with stores(kinds, args.postgres, work) as opened:
            started = time.monotonic()
            rows = fill(list(opened.values()), args.conversations, time.time())
            for store in opened.values():
                analysed(store)
            print(
                f"{rows:,} events written to each store ({', '.join(opened)}) "
                f"in {time.monotonic() - started:.0f} s"
            )
            for kind in opened:
                report(kind, measure(logged_in(work / kind), args.requests))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
