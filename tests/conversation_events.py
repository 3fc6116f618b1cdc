"""The events file the held-out conversations run against.

The project's own history (data/events.yml) plus four upcoming events and one from
last month, dated relative to today so the conversations never go stale.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Dict, List
from zoneinfo import ZoneInfo

import yaml

BERLIN = ZoneInfo("Europe/Berlin")
PROJECT = Path(__file__).resolve().parent.parent


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), BERLIN).isoformat()


def upcoming_events(today: date) -> List[Dict[str, Any]]:
    """The events that are not in the project's file (titles, places, times fixed)."""
    hamburg = today + timedelta(days=20)
    afghanistan = today + timedelta(days=34)
    munich = today + timedelta(days=48)
    cologne = today + timedelta(days=69)
    last_month = today - timedelta(days=25)
    return [
        {
            "id": "conv-hamburg",
            "title": {"en": "Network meeting Hamburg", "de": "Netzwerktreffen Hamburg"},
            "start": _at(hamburg, 10),
            "end": _at(hamburg, 16),
            "format": "in_person",
            "city": "Hamburg",
            "state": "Hamburg",
            "venue": "Rathaus Hamburg",
            "topics": ["reintegration"],
            "description": {
                "en": "Exchange among return counsellors and volunteers about "
                "reintegration offers.",
                "de": "Austausch unter Rückkehrberatenden und Ehrenamtlichen über "
                "Reintegrationsangebote.",
            },
            "registration_url": "https://example.org/register/hamburg",
        },
        {
            "id": "conv-online-afghanistan",
            "title": {
                "en": "Online dialogue: return to Afghanistan",
                "de": "Online-Dialog: Rückkehr nach Afghanistan",
            },
            "start": _at(afghanistan, 14),
            "end": _at(afghanistan, 15, 30),
            "format": "online",
            "description": {
                "en": "Counselling practice for people from Afghanistan and Pakistan.",
                "de": "Beratungspraxis für Menschen aus Afghanistan und Pakistan.",
            },
            "registration_url": "https://example.org/register/afghanistan",
        },
        {
            "id": "conv-munich-women",
            "title": {
                "en": "Workshop: counselling women returnees",
                "de": "Workshop: Beratung von Rückkehrerinnen",
            },
            "start": munich.isoformat(),
            "format": "hybrid",
            "city": "München",
            "state": "Bayern",
            "topics": ["women", "counselling"],
        },
        {
            "id": "conv-cologne-balkans",
            "title": {"en": "Dialogue Cologne", "de": "Dialog Köln"},
            "start": _at(cologne, 9, 30),
            "end": _at(cologne, 13),
            "format": "in_person",
            "city": "Köln",
            "state": "Nordrhein-Westfalen",
            "venue": "IHK Köln",
            "description": {
                "en": "Return and reintegration in the Western Balkans: Albania, "
                "Kosovo, North Macedonia and Serbia.",
                "de": "Rückkehr und Reintegration im Westbalkan: Albanien, Kosovo, "
                "Nordmazedonien und Serbien.",
            },
        },
        {
            "id": "conv-last-month-online",
            "title": {
                "en": "Online info session on REAG/GARP 2.0",
                "de": "Online-Infoveranstaltung zu REAG/GARP 2.0",
            },
            "start": _at(last_month, 10),
            "end": _at(last_month, 11),
            "format": "online",
        },
    ]


def write_events_file(path: Path, today: date) -> Path:
    """The project's events plus the conversations' own, as one events file."""
    project = yaml.safe_load((PROJECT / "data" / "events.yml").read_text("utf-8"))
    events = list(project["events"]) + upcoming_events(today)
    path.write_text(
        yaml.safe_dump({"events": events}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return path
