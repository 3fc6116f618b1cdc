"""Look up Rasa event classes by type name once, not on every stored event.

Rasa 3.6's ``Event.resolve_by_type`` walks every subclass of ``Event`` (with an
``inspect.isabstract`` check on each) for every event it turns back into an object.
Loading a conversation from the tracker store does that for each stored event, twice
per message: about a fifth of the server's time under load (docs/performance.md). Event
classes do not change once imported, so the first answer for a type name is kept;
names Rasa does not know still go through Rasa's own lookup (and its errors).
"""

from __future__ import annotations

from typing import Dict, Optional, Type

from rasa.shared.core import events

_rasa_resolve_by_type = events.Event.resolve_by_type
_known: Dict[str, Type[events.Event]] = {}


def resolve_by_type(
    type_name: str, default: Optional[Type[events.Event]] = None
) -> Optional[Type[events.Event]]:
    """Rasa's ``Event.resolve_by_type``, remembering the classes it found."""
    known = _known.get(type_name)
    if known is not None:
        return known
    found = _rasa_resolve_by_type(type_name, default)
    # A default stands in for an unknown name: not a class to remember for it.
    if found is not None and found is not default:
        _known[type_name] = found
    return found


def install() -> None:
    events.Event.resolve_by_type = staticmethod(resolve_by_type)
