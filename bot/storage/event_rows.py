"""The rows of Rasa's SQL tracker store (its ``events`` table) read back as Rasa's
event dicts, for the tools and the console that read conversations without Rasa."""

from __future__ import annotations

import json
from typing import Any, Dict


def event_of_row(row: Any) -> Dict[str, Any]:
    """A Rasa event dict; action rows need only their columns (no JSON parsing), and
    a row whose data is not a JSON object keeps its type and time."""
    if row.type_name == "action":
        return {"event": "action", "name": row.action_name, "timestamp": row.timestamp}
    try:
        event = json.loads(row.data or "{}")
    except ValueError:
        event = {}
    if not isinstance(event, dict):
        event = {}
    event.setdefault("event", row.type_name)
    event.setdefault("timestamp", row.timestamp)
    return event
