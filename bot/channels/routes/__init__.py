"""Rasa input channels that carry no chat, named in credentials.yml like the chat
channels: the calendar's ``.ics`` and feed routes (``calendar``), the staff's model
route for ``make publish`` (``model``), and the daily deletion of idle conversations,
which has no route and only starts and stops with the server (``retention``). Their
base, ``no_chat.NoChatChannel``, gives them their name and takes no credentials.
"""
