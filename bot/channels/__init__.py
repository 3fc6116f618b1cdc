"""Input and output channels, named in credentials.yml: the chat channels (``rest``,
``socketio`` with ``webchat``, ``telegram``) and, in ``routes``, the input channels
without a chat. What they share is in ``bot.services``.

Rasa imports this package when it reads credentials.yml: the patches of Rasa's own
code (bot/rasa_patches) are installed here, before any channel runs.
"""

from bot.rasa_patches import install_all

install_all()
