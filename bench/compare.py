"""The OFR assistant against a plain ``rasa init`` bot, side by side, one table.

    .venv/bin/python bench/compare.py [--seconds 30] [--warmup 5] \\
        [--concurrency 1,10,50] [--skip-training --baseline-model FILE] \\
        [--markdown FILE] [--workdir DIR] [--keep]

Measured in the same run on this machine, for both bots:

- full training time from scratch (an empty Rasa cache, ``RASA_CACHE_DIRECTORY``):
  the OFR project copied to a temporary folder, and the moodbot that
  ``rasa init --no-prompt`` creates and trains; the model file size;
- OFR retraining after one new example in one NLU file (data/nlu/en/chitchat.yml in
  the copy), with the cache of the full training: time and components restored;
- start-up: launch (OFR: scripts/run.sh, action server and Rasa server; baseline:
  ``rasa run``) to the first non-empty REST answer;
- bench/load.py at 1, 10 and 50 concurrent conversations of 10-20 turns (OFR's
  questions, event questions through the action server; the moodbot's from
  bench/baseline_conversations.yml): p50/p99 latency, requests/s, and the peak
  resident memory of the Rasa server process. The two bots run at the same time and
  their load rows alternate, so both see the same machine;
- OFR alone, after those servers stopped: the alert burst (bench/alert_burst.py, an
  event alert to 1,000 Telegram subscribers, then 200 of them tap "details" or ask
  a follow-up within 60 s): answered, p50/p99 from the webhook POST to the answer,
  and the alert fan-out time (``--no-burst`` leaves it out).

Prints one table with the OFR/baseline ratio, the target and whether it is met.
Benchmarks are not tests: the exit status is 0 whatever the numbers (1 only when a
server or a training failed, or the alert burst could not run).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Dict, List, Optional

from ofr_tools.processes import (
    command_line,
    descendants,
    resident_mb,
    total_memory_mb,
)

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("VENV", ROOT / ".venv"))
if not VENV.is_absolute():
    VENV = ROOT / VENV
RASA = str(VENV / "bin" / "rasa")
PYTHON = str(VENV / "bin" / "python")
LOAD = ROOT / "bench" / "load.py"
BURST = ROOT / "bench" / "alert_burst.py"
BASELINE_CONVERSATIONS = ROOT / "bench" / "baseline_conversations.yml"
# What `rasa train` needs of the OFR project (bot/ imports ofr/).
OFR_FILES = ["config.yml", "domain.yml", "data", "bot", "ofr"]
CHANGED_NLU_FILE = Path("data/nlu/en/chitchat.yml")
REST_PATH = "/webhooks/rest/webhook"

ENV = {
    **os.environ,
    "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
    "RASA_TELEMETRY_ENABLED": "false",
    "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0"),
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    # The load comes from one address as fast as it can: the limits meant for single
    # senders would measure themselves (bot/services/rate_limits.py).
    "OFR_RATE_PER_CONVERSATION": "0",
    "OFR_RATE_PER_ADDRESS": "0",
}


def log(message: str) -> None:
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- training -----------------------------------------------------------------------


@dataclass
class Training:
    seconds: Optional[float] = None
    model: Optional[Path] = None
    restored: int = 0
    trained: int = 0


def timed_run(cmd: List[str], cwd: Path, env: Dict[str, str], output: Path) -> float:
    """Run ``cmd`` to the end, its output in ``output``; the wall-clock seconds."""
    log(f"{' '.join(cmd)}  (in {cwd}, log {output})")
    started = time.perf_counter()
    with output.open("w") as out:
        code = subprocess.call(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    seconds = time.perf_counter() - started
    if code != 0:
        tail = "".join(output.read_text(errors="replace").splitlines(True)[-30:])
        raise SystemExit(f"{' '.join(cmd)} failed ({code}), see {output}:\n{tail}")
    return seconds


def count_components(log_file: Path) -> tuple:
    text = log_file.read_text(errors="replace")
    return (
        len(re.findall(r"Restored component '", text)),
        len(re.findall(r"Finished training component '", text)),
    )


def newest_model(folder: Path) -> Path:
    models = sorted(folder.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit(f"No model in {folder}")
    return models[-1]


def train_baseline(work: Path) -> Training:
    """``rasa init --no-prompt`` creates the moodbot and trains it: timed together
    (copying the template takes milliseconds); ``rasa train`` if it did not train."""
    folder = work / "baseline"
    env = {**ENV, "RASA_CACHE_DIRECTORY": str(work / "cache-baseline")}
    folder.mkdir()  # with --no-prompt, init wants an existing (empty) folder
    seconds = timed_run(
        [RASA, "init", "--no-prompt", "--init-dir", str(folder)],
        work,
        env,
        work / "baseline-init.log",
    )
    if not list((folder / "models").glob("*.tar.gz")):
        log("rasa init did not train: rasa train")
        seconds = timed_run(
            [RASA, "train", "--out", "models"], folder, env, work / "baseline-train.log"
        )
    return Training(seconds=seconds, model=newest_model(folder / "models"))


def add_example(nlu_file: Path) -> str:
    """Append one new example (to the file's first intent) to a copy's NLU file."""
    text = nlu_file.read_text(encoding="utf-8")
    match = re.search(r"^(\s*)- intent: *(\S+)", text, re.M)
    if not match:
        raise SystemExit(f"No intent in {nlu_file}")
    indent, intent = match.group(1), match.group(2)
    example = f"hello from the benchmark {int(time.time())}"
    block = (
        f"{indent}- intent: {intent}\n{indent}  examples: |\n{indent}    - {example}\n"
    )
    nlu_file.write_text(text.rstrip("\n") + "\n" + block, encoding="utf-8")
    return f"{intent}: {example!r}"


def train_ofr(work: Path) -> tuple:
    """Full training of a copy of the project with an empty cache, then retraining
    after one new NLU example with that cache."""
    folder = work / "ofr"
    folder.mkdir()
    for name in OFR_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, folder / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        elif source.exists():
            shutil.copy2(source, folder / name)
    env = {**ENV, "RASA_CACHE_DIRECTORY": str(work / "cache-ofr")}
    full = train_copy(folder, env, "ofr", work / "ofr-train.log")
    change = add_example(folder / CHANGED_NLU_FILE)
    log(f"Added to {CHANGED_NLU_FILE} in the copy: {change}")
    again = train_copy(folder, env, "ofr-retrained", work / "ofr-retrain.log")
    return full, again


def train_copy(
    folder: Path, env: Dict[str, str], name: str, log_file: Path
) -> Training:
    """``rasa train`` in the project copy: models/<name>.tar.gz, timed, and how many
    components were restored from the cache and trained."""
    training = Training()
    training.seconds = timed_run(
        [RASA, "train", "--fixed-model-name", name, "--out", "models"],
        folder,
        env,
        log_file,
    )
    training.model = folder / "models" / f"{name}.tar.gz"
    training.restored, training.trained = count_components(log_file)
    return training


# --- servers ------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    launched: float
    log_file: Path
    startup: Optional[float] = None
    rasa_pid: Optional[int] = None
    other_pids: List[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_ofr(work: Path, model: Path) -> Server:
    rasa_port, action_port = free_port(), free_port()
    var_dir = work / "var-ofr"
    env = {
        **ENV,
        "RASA_PORT": str(rasa_port),
        "ACTION_PORT": str(action_port),
        "OFR_STAFF_ADDR": f"127.0.0.1:{free_port()}",
        "OFR_VAR_DIR": str(var_dir),
        "OFR_MODEL": str(model),
        "VENV": str(VENV),
    }
    env.pop("ACTION_SERVER_URL", None)
    env.pop("TELEGRAM_TOKEN", None)
    log_file = work / "ofr-run.log"
    launched = time.perf_counter()
    process = subprocess.Popen(
        ["scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=log_file.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Server("OFR", process, rasa_port, launched, log_file)


def start_baseline(work: Path, model: Path) -> Server:
    port = free_port()
    log_file = work / "baseline-run.log"
    launched = time.perf_counter()
    process = subprocess.Popen(
        [RASA, "run", "--model", str(model), "--port", str(port)],
        cwd=work / "baseline",
        env={**ENV, "RASA_CACHE_DIRECTORY": str(work / "cache-baseline")},
        stdout=log_file.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Server("baseline", process, port, launched, log_file)


def first_answer(server: Server, message: str, limit: float = 300) -> None:
    """Poll the REST channel until a 200 with a non-empty list: start-up time."""
    body = json.dumps({"sender": "bench-startup", "message": message}).encode()
    while time.perf_counter() - server.launched < limit:
        if server.process.poll() is not None:
            raise SystemExit(f"The {server.name} server stopped: see {server.log_file}")
        try:
            request = urllib.request.Request(
                server.url + REST_PATH,
                data=body,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                if response.status == 200 and json.loads(response.read()):
                    server.startup = time.perf_counter() - server.launched
                    break
        except (OSError, ValueError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    else:
        raise SystemExit(f"No answer from the {server.name} server in {limit:.0f} s")
    pids = descendants(server.process.pid) + [server.process.pid]
    for pid in pids:
        line = command_line(pid)
        if "ofr_tools.rasa_serve run" in line or re.search(
            r"rasa run\b(?! actions)", line
        ):
            server.rasa_pid = server.rasa_pid or pid
        elif "rasa run actions" in line or "-m rasa_sdk" in line:
            server.other_pids.append(pid)
    log(f"{server.name}: first answer after {server.startup:.1f} s")


def stop(server: Server) -> None:
    """SIGINT to the server's own process group (run.sh stops both servers)."""
    try:
        os.killpg(server.process.pid, signal.SIGINT)
    except ProcessLookupError:
        return
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
    # The servers run in that group; make sure none outlives run.sh.
    try:
        os.killpg(server.process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def load_row(
    server: Server, concurrency: int, args: argparse.Namespace, work: Path
) -> dict:
    output = work / f"load-{server.name}-{concurrency}.json"
    cmd = [
        PYTHON,
        str(LOAD),
        "--url",
        server.url,
        "--concurrency",
        str(concurrency),
        "--seconds",
        str(args.seconds),
        "--warmup",
        str(args.warmup),
        "--pids",
        str(server.rasa_pid),
        "--output",
        str(output),
    ]
    if server.name == "baseline":
        cmd += ["--conversations", str(BASELINE_CONVERSATIONS)]
    log(f"{server.name}: {concurrency} concurrent conversations")
    subprocess.call(cmd, env=ENV, stdout=sys.stderr, stderr=sys.stderr)
    return json.loads(output.read_text())["rows"][0]


def alert_burst(args: argparse.Namespace, work: Path) -> Optional[dict]:
    """bench/alert_burst.py, its report to stderr; its figures, None if it could
    not run."""
    output = work / "alert-burst.json"
    cmd = [
        PYTHON,
        str(BURST),
        "--subscribers",
        str(args.burst_subscribers),
        "--taps",
        str(args.burst_taps),
        "--json",
        str(output),
    ]
    log(f"OFR: the alert burst ({' '.join(cmd[2:6])})")
    code = subprocess.call(cmd, env=ENV, stdout=sys.stderr, stderr=sys.stderr)
    if code != 0 or not output.exists():
        log(f"The alert burst could not run ({code}): see above")
        return None
    return json.loads(output.read_text())


def burst_figures(args: argparse.Namespace, burst: Optional[dict]) -> List[Figure]:
    """The alert burst's rows: OFR only (the rasa init bot has no Telegram)."""
    taps = args.burst_taps
    note = "failed" if burst is None else ""
    first = (burst or {}).get("first_answer", {})
    return [
        Figure(
            f"alert burst: answered of {taps} taps",
            None if burst is None else burst["answered"],
            None,
            f"all {taps}",
            ("ofr>=", taps),
            0,
            note,
        ),
        Figure(
            "alert burst p50 ms (POST → answer)",
            first.get("p50_ms"),
            None,
            "",
            (),
            0,
            note,
        ),
        Figure(
            "alert burst p99 ms (POST → answer)",
            first.get("p99_ms"),
            None,
            "≤ 2000 ms",
            ("ofr<=", 2000),
            0,
            note,
        ),
        Figure(
            f"alert fan-out s ({args.burst_subscribers} subscribers)",
            (burst or {}).get("fan_out_s"),
            None,
            "",
            (),
            1,
            note,
        ),
    ]


# --- the table ----------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    ofr: Optional[float]
    baseline: Optional[float]
    target: str = ""
    # "ratio<=", "ratio>=", "ofr<=" with the limit, or "" (no target)
    check: tuple = ()
    digits: int = 1
    note: str = ""

    @property
    def ratio(self) -> Optional[float]:
        if self.ofr is None or not self.baseline:
            return None
        return self.ofr / self.baseline

    def met(self) -> str:
        if not self.check:
            return ""
        kind, limit = self.check
        value = self.ratio if kind.startswith("ratio") else self.ofr
        if value is None:
            return "-"
        ok = value <= limit if kind.endswith("<=") else value >= limit
        return "yes" if ok else "NO"

    def cells(self) -> List[str]:
        def show(value: Optional[float], digits: int) -> str:
            if value is None:
                return self.note or "-"
            return f"{value:.{digits}f}"

        ratio = self.ratio
        return [
            self.name,
            show(self.ofr, self.digits),
            show(self.baseline, self.digits),
            "-" if ratio is None else f"{ratio:.2f}",
            self.target,
            self.met(),
        ]


HEADER = ["figure", "OFR", "baseline", "OFR/baseline", "target", "met"]


def text_table(figures: List[Figure]) -> str:
    rows = [HEADER] + [f.cells() for f in figures]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = []
    for number, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)
            )
        )
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(figures: List[Figure]) -> str:
    rows = [HEADER] + [f.cells() for f in figures]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def machine() -> str:
    total = total_memory_mb()
    memory = "?" if total is None else f"{total / 1024:.1f} GB RAM"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    try:
        rasa = metadata.version("rasa")
    except metadata.PackageNotFoundError:
        rasa = "?"
    return (
        f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}; {platform.node()}: "
        f"{os.cpu_count()} cores, {memory}, load average {load}; "
        f"Rasa {rasa}, Python {platform.python_version()}"
    )


def megabytes(path: Optional[Path]) -> Optional[float]:
    return None if path is None else path.stat().st_size / 1e6


# --- main ---------------------------------------------------------------------------


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30, help="measured, per row")
    parser.add_argument("--warmup", type=float, default=5, help="per row")
    parser.add_argument("--concurrency", default="1,10,50")
    parser.add_argument(
        "--skip-training",
        action="store_true",
        help="serve --ofr-model and --baseline-model; no training times",
    )
    parser.add_argument("--ofr-model", type=Path, default=ROOT / "models/ofr.tar.gz")
    parser.add_argument(
        "--baseline-model",
        type=Path,
        help="with --skip-training: a model of the rasa init bot (e.g. from a run "
        "with --keep: WORKDIR/baseline/models/*.tar.gz)",
    )
    parser.add_argument("--burst-subscribers", type=int, default=1000)
    parser.add_argument("--burst-taps", type=int, default=200)
    parser.add_argument(
        "--no-burst", action="store_true", help="leave out bench/alert_burst.py"
    )
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--workdir", type=Path, help="default: a temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if args.skip_training and not args.baseline_model:
        parser.error("--skip-training needs --baseline-model")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="ofr-bench-", dir=args.workdir))
    else:
        work = Path(tempfile.mkdtemp(prefix="ofr-bench-"))
    log(f"Work folder: {work}")
    about = machine()
    servers: List[Server] = []
    try:
        if args.skip_training:
            ofr_full, ofr_again = Training(model=args.ofr_model.resolve()), Training()
            baseline = Training(model=args.baseline_model.resolve())
            project = baseline.model.parent.parent
            if (project / "credentials.yml").exists():
                (work / "baseline").symlink_to(project)
            else:  # the REST channel is all the load needs
                (work / "baseline").mkdir()
                (work / "baseline" / "credentials.yml").write_text("rest:\n")
        else:
            baseline = train_baseline(work)
            log(f"baseline trained in {baseline.seconds:.1f} s")
            ofr_full, ofr_again = train_ofr(work)
            log(
                f"OFR trained in {ofr_full.seconds:.1f} s, retrained in "
                f"{ofr_again.seconds:.1f} s ({ofr_again.restored} restored, "
                f"{ofr_again.trained} trained)"
            )

        # One at a time for start-up, then both up and their load rows alternating.
        ofr = start_ofr(work, ofr_full.model)
        servers.append(ofr)
        first_answer(ofr, "Hallo!")
        base = start_baseline(work, baseline.model)
        servers.append(base)
        first_answer(base, "hello")
        idle_rss = {
            s.name: resident_mb(s.rasa_pid) if s.rasa_pid else None for s in servers
        }
        rows: Dict[str, Dict[int, dict]] = {"OFR": {}, "baseline": {}}
        for concurrency in args.concurrency:
            for server in servers:
                rows[server.name][concurrency] = load_row(
                    server, concurrency, args, work
                )
        action_rss = sum(resident_mb(pid) or 0 for pid in ofr.other_pids)
    finally:
        for server in servers:
            stop(server)
    # Alone on the machine, after the load: it starts servers of its own.
    burst = None if args.no_burst else alert_burst(args, work)

    figures: List[Figure] = []
    for c in args.concurrency:
        o, b = rows["OFR"][c], rows["baseline"][c]
        figures += [
            Figure(
                f"p50 latency ms, {c} conv.",
                o["p50_ms"],
                b["p50_ms"],
                "ratio ≤ 1.0",
                ("ratio<=", 1.0),
                0,
            ),
            Figure(
                f"p99 latency ms, {c} conv.",
                o["p99_ms"],
                b["p99_ms"],
                "ratio ≤ 1.0",
                ("ratio<=", 1.0),
                0,
            ),
            Figure(
                f"requests/s, {c} conv.",
                o["requests_per_s"],
                b["requests_per_s"],
                "ratio ≥ 1.0",
                ("ratio>=", 1.0),
                1,
            ),
        ]
    peak = {
        name: max((r["peak_rss_mb"] or 0) for r in rows[name].values()) or None
        for name in rows
    }
    skipped = "skipped" if args.skip_training else ""
    figures += [
        Figure(
            "Rasa server peak RSS MB",
            peak["OFR"],
            peak["baseline"],
            "≤ 1200 MB",
            ("ofr<=", 1200),
            0,
        ),
        Figure(
            "Rasa server idle RSS MB", idle_rss["OFR"], idle_rss["baseline"], "", (), 0
        ),
        Figure(
            "start-up s (launch to 1st answer)",
            ofr.startup,
            base.startup,
            "≤ 30 s",
            ("ofr<=", 30),
            1,
        ),
        Figure(
            "full training s (empty cache)",
            ofr_full.seconds,
            baseline.seconds,
            "≤ 180 s",
            ("ofr<=", 180),
            1,
            skipped,
        ),
        Figure(
            "retraining s (1 NLU example added)",
            ofr_again.seconds,
            None,
            "< full, cache used",
            ("ofr<=", ofr_full.seconds or 0),
            1,
            skipped,
        ),
        Figure(
            "model MB", megabytes(ofr_full.model), megabytes(baseline.model), "", (), 1
        ),
    ]
    errors = {
        name: sum(r["errors"] for r in rows[name].values())
        + sum(r["empty_answers"] for r in rows[name].values())
        + sum(r["apologies"] for r in rows[name].values())
        for name in rows
    }
    if not args.no_burst:
        figures += burst_figures(args, burst)
    figures.append(
        Figure(
            "errors + empty + apologies",
            errors["OFR"],
            errors["baseline"],
            "0",
            ("ofr<=", 0),
            0,
        )
    )

    notes = [
        about,
        f"load: bench/load.py, {args.seconds:g} s measured after {args.warmup:g} s "
        "warm-up per row, conversations of 10-20 turns, new senders over time; "
        "OFR with its action server and SQLite tracker store, baseline as "
        "`rasa init` makes it (in-memory tracker store, no action server)",
        f"OFR action server RSS after the load: {action_rss:.0f} MB (not in the "
        "Rasa server figure)",
    ]
    if not args.no_burst:
        notes.append(
            f"alert burst: bench/alert_burst.py after the load rows, {args.burst_taps} "
            f"of {args.burst_subscribers} Telegram subscribers tap the event's details "
            "or ask one follow-up within 60 s, through the webhook and a local Bot API "
            "stand-in; p50/p99 of the first answer; an apology or a missing answer "
            "counts as not answered"
        )
    if not args.skip_training:
        notes.append(
            f"retraining: {ofr_again.restored} components restored from the cache, "
            f"{ofr_again.trained} trained again (full training: {ofr_full.trained} "
            f"trained)"
        )
    print()
    for note in notes:
        print(note)
    print()
    print(text_table(figures))
    if args.markdown:
        args.markdown.write_text(
            "\n".join(f"{n}  " for n in notes)
            + "\n\n"
            + markdown_table(figures)
            + "\n",
            encoding="utf-8",
        )
        log(f"Wrote {args.markdown}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"Kept {work}")
    # A server that did not start is a failure; the numbers never are.
    return 1 if not args.no_burst and burst is None else 0


if __name__ == "__main__":
    sys.exit(main())
