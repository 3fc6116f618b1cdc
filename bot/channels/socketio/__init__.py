"""Rasa's socket.io channel for the web chat, with every event checked before Rasa
sees it (``input.ValidatedSocketIOInput``, named in credentials.yml)."""
