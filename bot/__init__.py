"""Rasa-side extensions of the OFR assistant: NLU components and input channels.

Importing any of them also makes a failing action server answer with an apology
instead of silence (bot/action_fallback.py).
"""

from bot import action_fallback

action_fallback.install()
