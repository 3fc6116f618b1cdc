"""Load test over REST: N concurrent conversations for T seconds, one row per N.

    .venv/bin/python bench/load.py --url http://127.0.0.1:5005 \\
        [--concurrency 1,10,50] [--seconds 60] [--warmup 10] \\
        [--conversations FILE] [--server-ports 5005,5006 | --pids 123,456]

Each simulated user holds one conversation of 10-20 turns (``--turns``), sending the
next message as soon as the answer to the previous one has arrived, then a new user
(a new sender id) starts. Requests finished during the ``--seconds`` after the
warm-up are measured: requests/s, p50, p99 and the slowest latency. Errors (HTTP
status other than 200, no valid JSON list, connection failures, timeouts) are counted
over the whole run, warm-up included; answers that are an empty list, and answers
that are the bot's apology for a failed or slow custom action (``--apology``), are
counted apart. The peak resident memory (sum of VmRSS, sampled every 0.5 s) is that of the
processes listening on ``--server-ports`` (default: the URL's port) or of ``--pids``.

The questions are the OFR assistant's (English and German users: greetings, what
OFR is, partners, contact, upcoming and past events through the action server,
follow-ups) unless ``--conversations`` names a YAML or JSON file, so the same run
can be repeated against another bot, e.g. a plain ``rasa init`` one::

    # one list per kind of user; a conversation opens with the list's first
    # message and goes on with others drawn at random from the rest, in list order
    en: ["hello", "I am sad", "yes", "no", "great", "bye", "are you a bot?"]

A plain list is one kind of user. Only loopback addresses are accepted unless
``--allow-remote`` is given: this tool is for servers on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence
from urllib.parse import urlsplit

import aiohttp
import yaml

from ofr.settings import is_loopback
from ofr_tools.processes import command_line, resident_mb

REST_PATH = "/webhooks/rest/webhook"
# Counted apart: what the OFR bot says instead of an answer when a custom action
# failed or took longer than OFR_ACTION_TIMEOUT (bot/rasa_patches/action_fallback.py).
APOLOGY_MESSAGE = "action_unavailable"

# Realistic OFR conversations: the first message of each list opens, the others are
# drawn at random and asked in the list's order (follow-ups such as "And in Munich?"
# come after their question). Event questions go through the action server.
OFR_CONVERSATIONS: Dict[str, List[str]] = {
    "en": [
        "Hello!",
        "What is OFR?",
        "What is the project about?",
        "Who are the partners of OFR?",
        "Who is behind the project?",
        "What does IOM do?",
        "IOM?",
        "And BAMF?",
        "What is GIZ's role?",
        "Which ministries are involved?",
        "Who is OFR for?",
        "What are the core messages?",
        "What does OFR offer?",
        "Is there a handbook?",
        "What is REAG/GARP?",
        "Tell me about StarthilfePlus",
        "What is Perspektive Heimat?",
        "Where can I find return counselling?",
        "How can I contact IOM?",
        "What's the email address?",
        "What is the phone number?",
        "Who is my contact person?",
        "Are there any upcoming OFR events?",
        "Any events in Hamburg?",
        "And in Munich?",
        "Are there online events?",
        "Show me more",
        "What did OFR do in 2018?",
        "What events took place in 2019?",
        "What happened in 2020?",
        "Where was the first network meeting?",
        "Were there events on Corona?",
        "Past events",
        "What can you do?",
        "Are you a bot?",
        "ok",
        "Thanks!",
        "Great, thank you",
    ],
    "de": [
        "Hallo!",
        "Was ist OFR?",
        "Worum geht es bei dem Projekt?",
        "Wer sind die Partner von OFR?",
        "Wer steckt hinter dem Projekt?",
        "Was macht die IOM?",
        "IOM?",
        "Und das BAMF?",
        "Welche Rolle hat die GIZ?",
        "Welche Ministerien sind beteiligt?",
        "Für wen ist OFR gedacht?",
        "Was sind die Kernbotschaften?",
        "Was bietet OFR an?",
        "Gibt es ein Handbuch?",
        "Was ist REAG/GARP?",
        "Was ist StarthilfePlus?",
        "Was ist Perspektive Heimat?",
        "Wo finde ich eine Rückkehrberatung?",
        "Wie erreiche ich die IOM?",
        "Wie lautet die E-Mail-Adresse?",
        "Wie ist die Telefonnummer?",
        "Wer ist meine Ansprechperson?",
        "Welche Veranstaltungen stehen an?",
        "Gibt es Veranstaltungen in München?",
        "Und in Hamburg?",
        "Gibt es Online-Veranstaltungen?",
        "Zeig mehr",
        "Was hat OFR 2018 gemacht?",
        "Welche Veranstaltungen gab es im Jahr 2019?",
        "Wie viele Netzwerktreffen gab es 2018?",
        "Wo fand das erste Netzwerktreffen statt?",
        "Was war das mit Corona 2020?",
        "Rückblick",
        "Was kannst du?",
        "Bist du ein Bot?",
        "ok",
        "Danke!",
        "Super, vielen Dank",
    ],
}


@dataclass
class Outcome:
    """One request: when it finished, how long it took, what went wrong if anything."""

    finished: float
    seconds: float
    error: Optional[str] = None
    empty: bool = False
    apology: bool = False
    message: str = ""


@dataclass
class Row:
    """The results for one concurrency."""

    concurrency: int
    seconds: float
    outcomes: List[Outcome] = field(default_factory=list)
    window: tuple = (0.0, 0.0)
    peak_rss_mb: Optional[float] = None
    client_cpu: float = 0.0
    conversations: int = 0

    def measured(self) -> List[Outcome]:
        start, end = self.window
        return [o for o in self.outcomes if start <= o.finished < end]

    def summary(self) -> Dict[str, object]:
        measured = self.measured()
        latencies = sorted(o.seconds * 1000 for o in measured if o.error is None)
        errors: Dict[str, int] = {}
        for outcome in self.outcomes:
            if outcome.error:
                errors[outcome.error] = errors.get(outcome.error, 0) + 1
        return {
            "concurrency": self.concurrency,
            "seconds": self.seconds,
            "requests": len(measured),
            "requests_per_s": round(len(measured) / self.seconds, 2),
            "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
            "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
            "max_ms": round(latencies[-1], 1) if latencies else None,
            "errors": sum(errors.values()),
            "error_kinds": errors,
            "empty_answers": sum(1 for o in self.outcomes if o.empty),
            "apologies": sum(1 for o in self.outcomes if o.apology),
            "requests_total": len(self.outcomes),
            "conversations_started": self.conversations,
            "peak_rss_mb": None
            if self.peak_rss_mb is None
            else round(self.peak_rss_mb, 1),
            "client_cpu_percent": round(self.client_cpu * 100, 1),
        }


def slowest_messages(row: Row, share: float = 0.01) -> List[tuple]:
    """The messages among the slowest ``share`` of a row's answers: (message, how
    many of the slowest, its median latency in ms over the whole row), most first.
    Which turns make the tail (issue 32)."""
    measured = [o for o in row.measured() if o.error is None]
    if not measured:
        return []
    ranked = sorted(measured, key=lambda o: o.seconds, reverse=True)
    tail = ranked[: max(1, round(len(ranked) * share))]
    counts: Dict[str, int] = {}
    for outcome in tail:
        counts[outcome.message] = counts.get(outcome.message, 0) + 1
    every: Dict[str, List[float]] = {}
    for outcome in measured:
        every.setdefault(outcome.message, []).append(outcome.seconds * 1000)
    return sorted(
        (
            (message, count, percentile(sorted(every[message]), 50))
            for message, count in counts.items()
        ),
        key=lambda item: -item[1],
    )


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile of sorted values (linear interpolation)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def load_conversations(path: Optional[Path]) -> Dict[str, List[str]]:
    """Message lists per kind of user, from a YAML/JSON file or the OFR default."""
    if path is None:
        return OFR_CONVERSATIONS
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        data = {"users": data}
    if not isinstance(data, dict) or not data:
        raise SystemExit(
            f"{path}: expected a list of messages or a mapping of lists of messages."
        )
    for name, messages in data.items():
        if (
            not isinstance(messages, list)
            or len(messages) < 2
            or not all(isinstance(m, str) and m.strip() for m in messages)
        ):
            raise SystemExit(
                f"{path}: {name!r} must be a list of at least two non-empty messages."
            )
    return {str(name): messages for name, messages in data.items()}


def conversation(messages: List[str], turns: tuple, rng: random.Random) -> List[str]:
    """The opening message, then others drawn from the rest in the list's order
    (greeting, questions, follow-ups, thanks), ``turns`` long in total."""
    length = rng.randint(*turns)
    rest = range(1, len(messages))
    picked: List[int] = []
    while len(picked) < length - 1:  # a short list is gone through again
        picked.extend(
            sorted(rng.sample(rest, min(len(rest), length - 1 - len(picked))))
        )
    return [messages[0], *(messages[index] for index in picked)]


# --- the processes whose memory is measured ----------------------------------------


def listening_inodes(port: int) -> set:
    """Socket inodes listening on ``port`` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def pids_listening_on(port: int) -> List[int]:
    """Processes that hold a listening socket on ``port`` (needs the same user)."""
    wanted = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    pids = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = {str(link.readlink()) for link in fd_dir.iterdir()}
        except OSError:
            continue
        if links & wanted:
            pids.append(int(fd_dir.parent.name))
    return sorted(pids)


def process_name(pid: int) -> str:
    words = command_line(pid).split()
    for index, word in enumerate(words):
        if word.endswith("/rasa") or word == "rasa":
            return " ".join(["rasa", *words[index + 1 : index + 2]])
    return Path(words[0]).name if words else "?"


async def sample_memory(pids: List[int], peak: List[float], stop: asyncio.Event):
    while True:
        # A process that is gone counts 0 MB.
        peak[0] = max(peak[0], sum(resident_mb(pid) or 0.0 for pid in pids))
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
            return
        except asyncio.TimeoutError:
            continue


# --- the load ---------------------------------------------------------------------


async def one_request(
    session: aiohttp.ClientSession,
    url: str,
    sender: str,
    message: str,
    apologies: Sequence[str] = (),
) -> Outcome:
    started = time.perf_counter()
    error = None
    empty = apology = False
    try:
        async with session.post(
            url, json={"sender": sender, "message": message}
        ) as response:
            body = await response.read()
            if response.status != 200:
                error = f"HTTP {response.status}"
            else:
                answers = json.loads(body)
                if not isinstance(answers, list):
                    error = "not a JSON list"
                else:
                    empty = not answers
                    apology = any(
                        isinstance(answer, dict) and answer.get("text") in apologies
                        for answer in answers
                    )
    except asyncio.TimeoutError:
        error = "timeout"
    except aiohttp.ClientError as failure:
        error = type(failure).__name__
    except ValueError:
        error = "not JSON"
    finished = time.perf_counter()
    return Outcome(finished, finished - started, error, empty, apology)


@dataclass
class Plan:
    """What every row of one run shares."""

    url: str
    conversations: Dict[str, List[str]]
    turns: tuple
    seconds: float
    warmup: float
    timeout: float
    seed: int
    pids: List[int]
    apologies: tuple = ()


async def user(
    number: int, session: aiohttp.ClientSession, plan: Plan, stop_at: float, row: Row
) -> None:
    """One simulated user after another, until ``stop_at``."""
    rng = random.Random(plan.seed * 100_003 + number)
    await asyncio.sleep(rng.uniform(0, 1))  # do not all start in the same instant
    kinds = sorted(plan.conversations)
    while time.perf_counter() < stop_at:
        # Seeded questions, but never a seeded sender: a repeated run (or the next
        # row) would otherwise continue the stored conversations of the last one and
        # measure their growth instead of new users.
        sender = f"load-{uuid.uuid4().hex[:16]}"
        row.conversations += 1
        messages = plan.conversations[rng.choice(kinds)]
        for message in conversation(messages, plan.turns, rng):
            if time.perf_counter() >= stop_at:
                return
            outcome = await one_request(
                session, plan.url, sender, message, plan.apologies
            )
            outcome.message = message
            row.outcomes.append(outcome)


async def run_row(plan: Plan, concurrency: int) -> Row:
    row = Row(concurrency, plan.seconds)
    peak = [0.0]
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(sample_memory(plan.pids, peak, stop_sampling))
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    row.window = (started + plan.warmup, started + plan.warmup + plan.seconds)
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=plan.timeout)
    ) as session:
        await asyncio.gather(
            *(user(n, session, plan, row.window[1], row) for n in range(concurrency))
        )
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    stop_sampling.set()
    await sampler
    row.peak_rss_mb = peak[0] if plan.pids else None
    row.client_cpu = (
        cpu_after.ru_utime
        + cpu_after.ru_stime
        - cpu_before.ru_utime
        - cpu_before.ru_stime
    ) / elapsed
    return row


def ofr_apologies() -> tuple:
    """The OFR bot's answers when an action failed or timed out (ofr/messages.yml)."""
    messages = Path(__file__).resolve().parent.parent / "ofr" / "messages.yml"
    try:
        texts = yaml.safe_load(messages.read_text(encoding="utf-8"))[APOLOGY_MESSAGE]
        return tuple(texts.values())
    except (OSError, KeyError, TypeError, AttributeError, yaml.YAMLError):
        return ()


# --- the command line ---------------------------------------------------------------


def numbers(text: str) -> List[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list like 1,10,50"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give positive whole numbers")
    return values


def turn_range(text: str) -> tuple:
    low, _, high = text.partition("-")
    try:
        turns = (int(low), int(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a range like 10-20"
        ) from None
    if turns[0] < 1 or turns[1] < turns[0]:
        raise argparse.ArgumentTypeError(f"{text!r} is not a range like 10-20")
    return turns


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--url",
        default="http://127.0.0.1:5005",
        help="the server (or proxy); the REST path is added (default %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=numbers,
        default=[1, 10, 50],
        help="concurrent conversations, one row each (default 1,10,50)",
    )
    parser.add_argument("--seconds", type=float, default=60, help="measured, per row")
    parser.add_argument(
        "--warmup", type=float, default=10, help="seconds before measuring, per row"
    )
    parser.add_argument("--turns", type=turn_range, default=(10, 20))
    parser.add_argument(
        "--timeout", type=float, default=120, help="seconds per request (an error)"
    )
    parser.add_argument(
        "--conversations", type=Path, help="YAML/JSON messages (default: OFR's)"
    )
    parser.add_argument(
        "--server-ports",
        type=numbers,
        help="ports of the Rasa servers whose memory is measured (default: --url's)",
    )
    parser.add_argument("--pids", type=numbers, help="process ids to measure instead")
    parser.add_argument(
        "--apology",
        action="append",
        help="an answer text counted as an apology, not an answer (repeatable; "
        f"default with the OFR questions: {APOLOGY_MESSAGE} from ofr/messages.yml)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, help="also write the rows as JSON")
    parser.add_argument(
        "--slowest",
        type=int,
        default=0,
        metavar="N",
        help="after each row, the N messages most often among its slowest 1%%",
    )
    parser.add_argument(
        "--allow-remote", action="store_true", help="accept a non-loopback --url"
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0:
        parser.error("--seconds must be positive and --warmup not negative")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    base = args.url.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SystemExit(f"--url {args.url!r} is not an http(s) address.")
    if not args.allow_remote and not is_loopback(parts.hostname):
        raise SystemExit(
            f"--url {args.url!r} is not on this machine: load tests run against "
            "localhost only (add --allow-remote for a server you are allowed to load)."
        )
    url = base if base.endswith(REST_PATH) else base + REST_PATH
    conversations = load_conversations(args.conversations)

    if args.pids:
        pids = args.pids
    else:
        ports = args.server_ports or [
            parts.port or (443 if parts.scheme == "https" else 80)
        ]
        pids = sorted({pid for port in ports for pid in pids_listening_on(port)})
        if not pids:
            print(
                f"No process found listening on port(s) {ports} (another user's, or "
                "not on this machine): memory is not measured; pass --pids.",
                file=sys.stderr,
            )
    described = ", ".join(f"{pid} ({process_name(pid)})" for pid in pids) or "none"
    source = str(args.conversations) if args.conversations else "built-in OFR"
    print(
        f"Load test of {url}: {args.seconds:g} s measured per row after "
        f"{args.warmup:g} s warm-up, conversations of {args.turns[0]}-{args.turns[1]} "
        f"turns ({source}, {', '.join(sorted(conversations))})."
    )
    print(f"Memory of: {described}")
    plan = Plan(
        url=url,
        conversations=conversations,
        turns=args.turns,
        seconds=args.seconds,
        warmup=args.warmup,
        timeout=args.timeout,
        seed=args.seed,
        pids=pids,
        apologies=tuple(args.apology or ())
        or (() if args.conversations else ofr_apologies()),
    )
    if any(process_name(pid) == "nginx" for pid in pids):
        print(
            "  (nginx holds that port: pass --server-ports with the Rasa instances' "
            "ports to measure them)"
        )
    header = (
        f"{'users':>5} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8} {'errors':>6} {'empty':>5} {'apology':>7} {'peak RSS MB':>11} "
        f"{'client CPU':>10}"
    )
    print(header)
    summaries = []
    for concurrency in args.concurrency:
        row = asyncio.run(run_row(plan, concurrency))
        s = row.summary()
        summaries.append(s)

        def show(value, spec: str) -> str:
            return "-" if value is None else format(value, spec)

        print(
            f"{concurrency:>5} {s['requests']:>8} {s['requests_per_s']:>7.2f} "
            f"{show(s['p50_ms'], '>8.0f')} {show(s['p99_ms'], '>8.0f')} "
            f"{show(s['max_ms'], '>8.0f')} {s['errors']:>6} {s['empty_answers']:>5} "
            f"{s['apologies']:>7} "
            f"{show(s['peak_rss_mb'], '>11.0f')} {s['client_cpu_percent']:>9.0f}%",
            flush=True,
        )
        if s["errors"]:
            kinds = ", ".join(f"{k}: {v}" for k, v in s["error_kinds"].items())
            print(f"      errors: {kinds}", flush=True)
        if args.slowest:
            print("      the slowest 1%: message × count (its p50 over the row)")
            for message, count, median in slowest_messages(row)[: args.slowest]:
                print(f"        {message[:50]!r:54} × {count:<3} ({median:.0f} ms)")
    if args.output:
        args.output.write_text(
            json.dumps({"url": url, "pids": pids, "rows": summaries}, indent=2) + "\n",
            encoding="utf-8",
        )
    return 1 if any(s["errors"] for s in summaries) else 0


if __name__ == "__main__":
    sys.exit(main())
