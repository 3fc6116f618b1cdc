"""Write Telegram deep links with QR codes for flyers: ``make share-links BOT=<username>``.

For the upcoming events (one link each), alerts (all events, online, each Land with
upcoming events) and the main questions, writes a PNG and an SVG QR code per link
and an ``index.md`` that lists them, into ``var/share-links/`` (``--out``). Scanning
a code opens the bot on Telegram at that event, subscription or answer
(ofr/deep_links.py).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import List, Optional, Tuple

import segno

from ofr import deep_links, settings
from ofr.events.event_filter import filter_key
from ofr.events.search import upcoming
from ofr.events.store import default_store

QUESTIONS = [
    ("What is OFR?", "ask_what_is_ofr"),
    ("Perspektive Heimat", "ask_perspektive_heimat"),
    ("REAG/GARP", "ask_reag_garp"),
    ("StarthilfePlus", "ask_starthilfeplus"),
    ("Contact IOM", "ask_contact"),
]


def links() -> List[Tuple[str, str, str]]:
    """(file name, label, start payload) of every link worth printing."""
    found: List[Tuple[str, str, str]] = [
        ("events", "Upcoming events", deep_links.start_payload_for_events()),
        (
            "alerts-all",
            "Alerts: all new events",
            deep_links.start_payload_for_subscription(filter_key({})),
        ),
        (
            "alerts-online",
            "Alerts: new online events",
            deep_links.start_payload_for_subscription(filter_key({"format": "online"})),
        ),
    ]
    coming = upcoming(default_store().index(), datetime.now(timezone.utc))
    for state in sorted({e.state for e in coming if e.state}):
        payload = deep_links.start_payload_for_subscription(
            filter_key({"state": state})
        )
        if len(payload) <= 64:
            found.append(
                (f"alerts-{_slug(state)}", f"Alerts: new events in {state}", payload)
            )
    for event in coming:
        payload = deep_links.start_payload_for_event(event.id)
        if len(payload) <= 64:
            found.append((f"event-{event.id}", f"Event: {event.title.en}", payload))
    for label, intent in QUESTIONS:
        found.append(
            (
                f"question-{_slug(intent)}",
                label,
                deep_links.start_payload_for_question(intent),
            )
        )
    return found


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bot", required=True, help="the bot's username, e.g. ofr_bot")
    parser.add_argument(
        "--out", type=Path, help="folder (default $OFR_VAR_DIR/share-links)"
    )
    args = parser.parse_args(argv)
    username = args.bot.strip().lstrip("@")
    if not re.fullmatch(r"[A-Za-z0-9_]{5,32}", username):
        print(
            f"'{args.bot}' is not a Telegram bot username: give the name @BotFather "
            "shows, e.g. make share-links BOT=ofr_assistant_bot.",
            file=sys.stderr,
        )
        return 2
    out = args.out or settings.current().var_dir / "share-links"
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# OFR assistant: links and QR codes",
        "",
        "| what | link | QR code |",
        "|---|---|---|",
    ]
    for name, label, payload in links():
        url = deep_links.link(username, payload)
        code = segno.make(url, error="m")
        code.save(str(out / f"{name}.png"), scale=8, border=2)
        code.save(str(out / f"{name}.svg"), scale=8, border=2)
        lines.append(f"| {label} | {url} | {name}.png, {name}.svg |")
    (out / "index.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"Wrote {len(lines) - 4} links with QR codes to {out} (index.md lists them).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
