"""Where conversations live: tracker store, lock store, ids, erasing and offline reads.

Used by the Rasa server (endpoints.yml) and by offline tools (purge, unanswered,
migrate-ids), which is why importing it installs no patch of Rasa.
"""
