"""The Rasa side of the OFR assistant, by role (docs/architecture.md).

- ``bot.channels``: input and output channels named in credentials.yml;
- ``bot.services``: what the channels share (handover desk, feedback, limits, tokens);
- ``bot.nlu``: the NLU components named in config.yml;
- ``bot.storage``: tracker store, lock store and erasing a conversation (endpoints.yml);
- ``bot.rasa_patches``: every change to Rasa's own code, installed by ``bot.channels``
  and ``bot.nlu`` when Rasa imports them.

Importing ``bot`` itself changes nothing.
"""
