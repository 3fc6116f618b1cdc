"""The conversation, not the single message: what the bot last showed, the question
it is waiting for, and how a follow-up is read against them (docs/conversations.md).

Plain Python over Rasa's event dicts: the Rasa server's channels and the action
server read the same state the same way.
"""
