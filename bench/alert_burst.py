"""The alert burst: an event alert to N Telegram subscribers, then M of them tap the
event's details or ask one follow-up within a minute. How fast was each answered?

    .venv/bin/python bench/alert_burst.py [--subscribers 1000] [--taps 200] \\
        [--within 60] [--seed 1] [--json FILE] [--keep]

Starts the real servers (scripts/run.sh: action server and Rasa server with the
Telegram channel; the staff console off) against a local Bot API stand-in
(bench/bot_api_stand_in.py), on a copy of data/events.yml, and posts every update
to the webhook as Telegram would (with the secret header):

1. N chats send "/subscribe all" (half in German, half in English);
2. staff add an upcoming event to the events file: the alert service sends one
   alert per subscriber (python-telegram-bot's rate limiter: about 30 a second);
   the time until the stand-in has all N is the fan-out time;
3. M random subscribers, at random moments within ``--within`` seconds (from the
   end of the fan-out; with ``--during-fan-out`` from each one's own alert, while
   the others still go out), either
   press the event's details button (a callback_query with the button's
   callback_data as the bot made it under its own "/events" answer: the alert
   itself carries no button) or type one follow-up ("what time?", "where is it?",
   "is it online?", or in German);
4. per tap, the time from the webhook POST to the stand-in receiving the bot's first
   text message to that chat (and its last message, the end of the turn); a
   calendar file without a text is no answer.

Prints p50/p99/max, how many taps were answered (an apology for a failed action or
a rate-limit note counts as unanswered), and the fan-out time. A benchmark: the
exit status is 0 whatever the numbers, and also when answers are missing (printed
as "NOT ANSWERED"); 1 only when the scenario could not run (a server did not start).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import aiohttp
from bot_api_stand_in import BotApiStandIn, callback_update, message_update

from ofr.messages import message

ROOT = Path(__file__).resolve().parent.parent

SECRET = "bench-secret_burst"
TOKEN = "424242:BENCH-burst"
EVENT_ID = "ofr-burst-info-session"
TITLES = {
    "en": "Online information session on voluntary return",
    "de": "Online-Infoveranstaltung zur freiwilligen Rückkehr",
}
FOLLOW_UPS = {
    "en": ["what time?", "where is it?", "is it online?"],
    "de": ["um wie viel Uhr?", "wo ist das?", "ist es online?"],
}
FIRST_CHAT = 700_000_000
PROBE_CHAT = 699_999_999
ANSWERS = ("sendMessage", "sendDocument")


class CouldNotRun(RuntimeError):
    """The scenario could not run (a server did not start, the webhook refused)."""


def log(text: str) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile (linear interpolation), as bench/load.py computes it."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


# --- what the stand-in received -----------------------------------------------------


@dataclass
class Arrival:
    at: float
    method: str
    text: str
    message_id: Optional[int]
    markup: Any


class Recorder:
    """The texts and files the stand-in got for each chat, and when; the first
    alert (a message naming the event) of each chat apart."""

    def __init__(self) -> None:
        self.by_chat: Dict[int, List[Arrival]] = {}
        self.alerts: Dict[int, Arrival] = {}

    def __call__(
        self, at: float, method: str, params: Dict[str, Any], result: Any
    ) -> None:
        if method not in ANSWERS:
            return
        try:
            chat = int(params.get("chat_id", 0))
        except (TypeError, ValueError):
            return
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        text = str(params.get("text", "")) if method == "sendMessage" else "[file]"
        arrival = Arrival(at, method, text, result.get("message_id"), markup)
        self.by_chat.setdefault(chat, []).append(arrival)
        if chat not in self.alerts and any(t in text for t in TITLES.values()):
            self.alerts[chat] = arrival

    def to(self, chat: int, since: float = 0.0) -> List[Arrival]:
        return [a for a in self.by_chat.get(chat, []) if a.at >= since]

    def answered(self, chats: Sequence[int]) -> int:
        """How many of ``chats`` got any message."""
        return sum(1 for chat in chats if chat in self.by_chat)


# --- the servers --------------------------------------------------------------------


@dataclass
class Bot:
    process: subprocess.Popen
    url: str
    work: Path  # run.log (scripts/run.sh), var/ (the servers' logs)

    def logs(self) -> str:
        run_log = self.work / "run.log"
        last = run_log.read_text(errors="replace").strip().splitlines()[-1:]
        return f"{' '.join(last)} (see {run_log} and {self.work / 'var'}/)"


def start_bot(
    work: Path, base_url: str, events_file: Path, args: argparse.Namespace
) -> Bot:
    """scripts/run.sh with Telegram on, the Bot API at the stand-in."""
    rasa_port = free_port()
    env = {
        **os.environ,
        # This checkout's code, not that of the editable install.
        "PYTHONPATH": os.pathsep.join(
            dict.fromkeys(
                p
                for p in [
                    str(ROOT),
                    *os.environ.get("PYTHONPATH", "").split(os.pathsep),
                ]
                if p
            )
        ),
        "RASA_PORT": str(rasa_port),
        "ACTION_PORT": str(free_port()),
        "OFR_STAFF_ADDR": "off",
        "OFR_VAR_DIR": str(work / "var"),
        "OFR_MODEL": str(args.model),
        "OFR_EVENTS_FILE": str(events_file),
        "OFR_ALERT_POLL_SECONDS": str(args.poll_seconds),
        "TELEGRAM_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": base_url,
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    for name in ("ACTION_SERVER_URL", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_STAFF_CHAT_ID"):
        env.pop(name, None)
    output = (work / "run.log").open("w")
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "run.sh")],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Bot(process, f"http://127.0.0.1:{rasa_port}", work)


def stop_bot(bot: Bot) -> None:
    """SIGINT to the group run.sh leads (it stops both servers), then SIGKILL."""
    try:
        os.killpg(bot.process.pid, signal.SIGINT)
        bot.process.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(bot.process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    bot.process.wait()


HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


async def queue_state(session: aiohttp.ClientSession, bot: Bot) -> Dict[str, Any]:
    async with session.get(f"{bot.url}/webhooks/telegram/queue", headers=HEADERS) as r:
        r.raise_for_status()
        return await r.json()


async def wait_ready(session: aiohttp.ClientSession, bot: Bot, limit: float) -> None:
    """Until the Telegram channel has reached the stand-in (its queue says ready)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if bot.process.poll() is not None:
            raise CouldNotRun(f"The bot stopped while starting: {bot.logs()}")
        try:
            if (await queue_state(session, bot)).get("ready"):
                return
        except (aiohttp.ClientError, OSError):
            pass
        await asyncio.sleep(0.5)
    raise CouldNotRun(f"The bot did not start in {limit:.0f} s: {bot.logs()}")


async def wait_processed(
    session: aiohttp.ClientSession, bot: Bot, limit: float
) -> bool:
    """Until the bot has finished every update it took; False after ``limit`` s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if (await queue_state(session, bot))["pending"] == 0:
            return True
        await asyncio.sleep(0.1)
    return False


async def post(
    session: aiohttp.ClientSession, bot: Bot, update: Dict[str, Any]
) -> None:
    """Post an update as Telegram does: again after a 503 (queue full, starting)."""
    for _ in range(60):
        async with session.post(
            f"{bot.url}/webhooks/telegram/webhook", json=update, headers=HEADERS
        ) as reply:
            if reply.status == 200:
                return
            if reply.status != 503:
                raise CouldNotRun(
                    f"The webhook answered {reply.status}: {await reply.text()}"
                )
        await asyncio.sleep(1)
    raise CouldNotRun("The webhook answered 503 for a minute.")


# --- the scenario -------------------------------------------------------------------


def events_file_for(work: Path) -> Path:
    path = work / "events.yml"
    shutil.copy(ROOT / "data" / "events.yml", path)
    return path


def add_event(path: Path) -> None:
    """An upcoming online event, appended as staff would."""
    start = (datetime.now(timezone.utc) + timedelta(days=12)).replace(
        hour=14, minute=0, second=0, microsecond=0
    )
    entry = (
        f"\n  - id: {EVENT_ID}\n"
        f'    title: {{en: "{TITLES["en"]}", de: "{TITLES["de"]}"}}\n'
        f"    start: {start.isoformat()}\n"
        f"    end: {(start + timedelta(hours=2)).isoformat()}\n"
        "    format: online\n"
        "    topics: [return]\n"
    )
    with path.open("a", encoding="utf-8") as events:
        events.write(entry)


def language_of(chat: int) -> str:
    return "de" if chat % 2 == 0 else "en"


@dataclass
class Tap:
    chat: int
    kind: str  # "details" or the typed follow-up
    offset: float
    posted: float = 0.0
    first: Optional[Arrival] = None
    last: Optional[Arrival] = None


@dataclass
class Result:
    subscribers: int = 0
    subscribed: int = 0
    subscribe_seconds: float = 0.0
    alerts: int = 0
    first_alert_seconds: Optional[float] = None
    fan_out_seconds: Optional[float] = None
    during_fan_out: bool = False
    alerts_due: float = 0.0  # when waiting for the alerts ends
    details_payload: str = ""
    details_from: str = ""
    taps: List[Tap] = field(default_factory=list)


def details_button(recorder: Recorder) -> Optional[str]:
    """The callback_data of the bot's button for the event in its /events answer."""
    for arrival in recorder.to(PROBE_CHAT):
        rows = (arrival.markup or {}).get("inline_keyboard", [])
        for row in rows:
            for button in row:
                data = str(button.get("callback_data", ""))
                if EVENT_ID in data and "details" in data:
                    return data
    return None


async def subscribe_all(
    session: aiohttp.ClientSession, bot: Bot, chats: List[int], result: Result
) -> None:
    """Every chat sends "/subscribe all"; until the bot has confirmed them."""
    began = time.monotonic()
    slots = asyncio.Semaphore(16)

    async def subscribe(chat: int) -> None:
        async with slots:
            update = message_update(chat, "/subscribe all", language_of(chat))
            await post(session, bot, update)

    await asyncio.gather(*(subscribe(chat) for chat in chats))
    await wait_processed(session, bot, 60 + len(chats) / 10)
    result.subscribe_seconds = time.monotonic() - began


async def alert_everyone(
    events_file: Path, recorder: Recorder, chats: List[int], result: Result
) -> None:
    """Staff add the event; until every subscriber has its alert (or time is up)."""
    written = time.monotonic()
    add_event(events_file)
    result.alerts_due = written + 60 + 3 * len(chats) / 30
    while time.monotonic() < result.alerts_due and len(recorder.alerts) < len(chats):
        await asyncio.sleep(0.2)
    wanted = set(chats)
    moments = [a.at for chat, a in recorder.alerts.items() if chat in wanted]
    result.alerts = len(moments)
    if moments:
        result.first_alert_seconds = min(moments) - written
        result.fan_out_seconds = max(moments) - written
    log(f"{result.alerts} alerts in {result.fan_out_seconds or 0:.1f} s")


async def find_details_button(
    session: aiohttp.ClientSession, bot: Bot, recorder: Recorder, result: Result
) -> None:
    """The details button as the bot makes it, under its own /events answer."""
    await post(session, bot, message_update(PROBE_CHAT, "/events", "en"))
    deadline = time.monotonic() + 60
    found = None
    while time.monotonic() < deadline and found is None:
        await asyncio.sleep(0.05)
        found = details_button(recorder)
    if found:
        result.details_payload, result.details_from = found, "the bot's button"
    else:
        result.details_payload = f'/ask_event_details{{"event_id": "{EVENT_ID}"}}'
        result.details_from = "no button in the /events answer: the payload"
    log(f"details button: {result.details_payload} ({result.details_from})")


def plan_taps(chats: List[int], args: argparse.Namespace) -> List[Tap]:
    """Random subscribers at random moments: half press details, half ask."""
    rng = random.Random(args.seed)
    taps = []
    for chat in rng.sample(chats, min(args.taps, len(chats))):
        kind = "details"
        if rng.random() >= 0.5:
            kind = rng.choice(FOLLOW_UPS[language_of(chat)])
        taps.append(Tap(chat, kind, rng.uniform(0, args.within)))
    return sorted(taps, key=lambda t: t.offset)


async def tap_all(
    session: aiohttp.ClientSession,
    bot: Bot,
    recorder: Recorder,
    result: Result,
    button: asyncio.Event,
) -> None:
    """Post each tap at its moment (after the chat's alert if taps overlap the
    fan-out); once the bot is done, find each answer."""
    start = time.monotonic()

    async def moment(one: Tap) -> float:
        if not result.during_fan_out:
            return start + one.offset
        while one.chat not in recorder.alerts and time.monotonic() < result.alerts_due:
            await asyncio.sleep(0.05)
        alert = recorder.alerts.get(one.chat)
        return (alert.at if alert else time.monotonic()) + one.offset

    async def tap(one: Tap) -> None:
        at = await moment(one)
        await button.wait()
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        language = language_of(one.chat)
        if one.kind == "details":
            alert = recorder.alerts.get(one.chat)  # pressed under the alert it got
            update = callback_update(
                one.chat,
                result.details_payload,
                language,
                alert.message_id if alert else None,
            )
        else:
            update = message_update(one.chat, one.kind, language)
        one.posted = time.monotonic()
        await post(session, bot, update)

    await asyncio.gather(*(tap(one) for one in result.taps))
    log("all taps posted; waiting for the answers")
    await wait_processed(session, bot, 120)
    for one in result.taps:
        # An answer is a text; a calendar file alone is none.
        answers = recorder.to(one.chat, one.posted)
        texts = [a for a in answers if a.method == "sendMessage"]
        if texts:
            one.first, one.last = texts[0], answers[-1]


async def alert_and_taps(
    session: aiohttp.ClientSession,
    bot: Bot,
    recorder: Recorder,
    events_file: Path,
    chats: List[int],
    result: Result,
) -> None:
    """The alert, then the taps: after the whole fan-out, or each within a minute
    of its own alert while the others still go out (``--during-fan-out``)."""
    button = asyncio.Event()

    async def details() -> None:
        await find_details_button(session, bot, recorder, result)
        button.set()

    if not result.during_fan_out:
        await alert_everyone(events_file, recorder, chats, result)
        await details()
        await tap_all(session, bot, recorder, result, button)
        return
    fan_out = asyncio.create_task(alert_everyone(events_file, recorder, chats, result))
    await asyncio.sleep(0)  # the event is in the file before /events asks
    await asyncio.gather(
        fan_out, details(), tap_all(session, bot, recorder, result, button)
    )


async def run(args: argparse.Namespace, work: Path, result: Result) -> None:
    stand_in = await BotApiStandIn().start()
    recorder = Recorder()
    stand_in.listeners.append(recorder)
    events_file = events_file_for(work)
    bot = start_bot(work, stand_in.base_url, events_file, args)
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            began = time.monotonic()
            await wait_ready(session, bot, 300)
            log(f"bot ready after {time.monotonic() - began:.0f} s")
            chats = [FIRST_CHAT + n for n in range(args.subscribers)]
            result.subscribers = len(chats)
            await subscribe_all(session, bot, chats, result)
            result.subscribed = recorder.answered(chats)
            log(f"{result.subscribed} subscribed in {result.subscribe_seconds:.1f} s")
            result.taps = plan_taps(chats, args)
            await alert_and_taps(session, bot, recorder, events_file, chats, result)
    finally:
        await asyncio.to_thread(stop_bot, bot)
        await stand_in.stop()


# --- the report ---------------------------------------------------------------------


def unanswered_texts() -> Tuple[str, ...]:
    """Beginnings of what the bot says instead of an answer."""
    return tuple(
        message(name, language, limit="")[:25]
        for name in ("action_unavailable", "input_too_fast")
        for language in ("en", "de")
    )


def summary(result: Result, args: argparse.Namespace) -> Dict[str, Any]:
    not_answers = unanswered_texts()
    answered = [
        t for t in result.taps if t.first and not t.first.text.startswith(not_answers)
    ]
    apologies = [
        t for t in result.taps if t.first and t.first.text.startswith(not_answers)
    ]
    first = [(t.first.at - t.posted) * 1000 for t in answered if t.first]
    whole = [(t.last.at - t.posted) * 1000 for t in answered if t.last]

    def stats(values: List[float]) -> Dict[str, Optional[float]]:
        if not values:
            return {"p50_ms": None, "p99_ms": None, "max_ms": None}
        return {
            "p50_ms": percentile(sorted(values), 50),
            "p99_ms": percentile(sorted(values), 99),
            "max_ms": max(values),
        }

    return {
        "subscribers": result.subscribers,
        "subscribed": result.subscribed,
        "subscribe_s": result.subscribe_seconds,
        "alerts_sent": result.alerts,
        "first_alert_s": result.first_alert_seconds,
        "fan_out_s": result.fan_out_seconds,
        "taps": len(result.taps),
        "within_s": args.within,
        "during_fan_out": result.during_fan_out,
        "details_taps": sum(t.kind == "details" for t in result.taps),
        "answered": len(answered),
        "apologies": len(apologies),
        "missing": [t.chat for t in result.taps if t.first is None],
        "first_answer": stats(first),
        "whole_answer": stats(whole),
        "details_payload": result.details_payload,
        "details_from": result.details_from,
        "answers_by_kind": answers_by_kind(result.taps),
    }


def answers_by_kind(taps: List[Tap]) -> Dict[str, List[Tuple[str, int]]]:
    """Per kind of tap, the commonest first lines of the first answer."""
    seen: Dict[str, Counter] = {}
    for one in taps:
        line = (one.first.text.splitlines() or [""])[0][:60] if one.first else "-"
        seen.setdefault(one.kind, Counter())[line] += 1
    return {kind: counts.most_common(2) for kind, counts in sorted(seen.items())}


def ms(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def seconds(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.1f} s"


def print_report(s: Dict[str, Any]) -> None:
    first, whole = s["first_answer"], s["whole_answer"]
    print()
    when = (
        "of each one's own alert, during the fan-out"
        if s["during_fan_out"]
        else "once all alerts went out"
    )
    print(
        f"alert burst: {s['subscribers']} Telegram subscribers, {s['taps']} taps "
        f"within {s['within_s']:g} s {when} ({s['details_taps']} details buttons, "
        f"{s['taps'] - s['details_taps']} follow-ups)"
    )
    print(
        f"subscribed                  {s['subscribed']}/{s['subscribers']} "
        f"in {seconds(s['subscribe_s'])}"
    )
    print(
        f"alerts sent                 {s['alerts_sent']}/{s['subscribers']}; first "
        f"after {seconds(s['first_alert_s'])}, all after {seconds(s['fan_out_s'])} "
        "(events file written → stand-in; ~30 messages/s allowed)"
    )
    print(
        f"answered                    {s['answered']}/{s['taps']} "
        f"({s['apologies']} apologies or notes, {len(s['missing'])} without answer)"
    )
    print(
        f"first answer (POST → stand-in)  p50 {ms(first['p50_ms'])}  "
        f"p99 {ms(first['p99_ms'])}  max {ms(first['max_ms'])}"
    )
    print(
        f"whole answer (last message)     p50 {ms(whole['p50_ms'])}  "
        f"p99 {ms(whole['p99_ms'])}  max {ms(whole['max_ms'])}"
    )
    print(f"details button              {s['details_payload']} ({s['details_from']})")
    for kind, lines in s["answers_by_kind"].items():
        shown = "; ".join(f"{n}× {line!r}" for line, n in lines)
        print(f"  {kind:<25} {shown}")
    unanswered = s["taps"] - s["answered"]
    if unanswered or s["alerts_sent"] < s["subscribers"]:
        loud = (
            f"NOT ANSWERED: {unanswered} of {s['taps']} taps "
            f"(no answer in chats {s['missing'][:10]}{'…' if len(s['missing']) > 10 else ''}; "
            f"{s['apologies']} apologies or notes); alerts {s['alerts_sent']}/"
            f"{s['subscribers']}"
        )
        print("\n" + "!" * 8 + " " + loud)
        print(loud, file=sys.stderr)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--within", type=float, default=60, help="seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--during-fan-out",
        action="store_true",
        help="each tap within --within s of its own alert, while the others still "
        "go out (default: the taps start once all alerts went out)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=1,
        help="OFR_ALERT_POLL_SECONDS of the bot",
    )
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "ofr.tar.gz")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if not args.model.exists():
        print(f"No model at {args.model}: run make train first.", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="ofr-bench-burst-"))
    log(f"work folder {work}")
    result = Result(during_fan_out=args.during_fan_out)
    try:
        asyncio.run(run(args, work, result))
    except CouldNotRun as error:
        print(f"The alert burst could not run: {error}", file=sys.stderr)
        print(f"Logs kept in {work}", file=sys.stderr)
        return 1
    figures = summary(result, args)
    print_report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    if args.keep:
        log(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
