"""Rasa-side extensions of the OFR assistant: NLU components and input channels.

Importing any of them also adjusts Rasa's custom-action calls: a failing action
server answers with an apology instead of silence (bot/action_fallback.py), and
replies are checked with a schema validator built once (bot/action_response_check.py),
and stored events find their classes without a search each time (bot/event_types.py).
"""

from bot import action_fallback, action_response_check, event_types

action_fallback.install()
action_response_check.install()
event_types.install()
