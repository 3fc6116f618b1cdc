"""What the chat channels share: the handover desk and staff e-mail, the 👍 / 👎
feedback and the side buttons' answers, answering a resent message once, the input
and rate limits, and the bearer-token check of the staff routes.

A service knows no channel (the channels import it, never the other way round), and
importing this package installs no Rasa patch: that happens in ``bot.channels``,
which Rasa imports from credentials.yml before any channel runs.
"""
