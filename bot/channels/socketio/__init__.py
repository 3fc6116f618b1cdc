"""Rasa's socket.io channel for the web chat, with every event checked before Rasa
sees it (``input.ValidatedSocketIOInput``, named in credentials.yml), by job:

- ``checks``: the Engine.IO and Socket.IO packet checks and the event data checks;
- ``rooms``: the channel's name and the one conversation room a socket is in;
- ``output``: ``WidgetOutput``, the answers as the web chat (web/ofr-chat.js) reads them;
- ``waiting_answers``: staff answers from the handover desk, offered to the connected
  chats until the widget acknowledges them;
- ``input``: the input channel, whose blueprint hands the socket.io events to
  ``ChatEventHandlers`` (one method an event).
"""
