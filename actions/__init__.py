"""Custom actions of the OFR assistant, loaded by `python -m rasa_sdk --actions actions` (scripts/lib.sh)."""

from actions.did_you_mean import ActionDidYouMean  # noqa: F401
from actions.event_actions import (  # noqa: F401
    ActionEventDetails,
    ActionMoreEvents,
    ActionPastEvents,
    ActionSearchEvents,
    ActionSubscribeEvents,
)
from actions.handover import ActionOfferHandover  # noqa: F401
from actions.session import ActionSessionStart, ActionSwitchLanguage  # noqa: F401
