"""The OFR assistant's core, shared by the Rasa server and the action server.

Nothing here imports Rasa or rasa_sdk: events (store, index, search, reading a
question, periods, places, formatting, calendar files), language codes, message
texts and settings.
"""
