"""The socket.io packet check (bot/channels/socketio/checks.py) lets the web chat's
acknowledgements through and still refuses malformed packets (issue 29, finding 9:
the acknowledgement of a staff answer was dropped, so the answer came again)."""

from __future__ import annotations

import pytest

from bot.channels.socketio.checks import socketio_packet_ok


@pytest.mark.parametrize(
    "packet",
    [
        "31[true]",  # what socket.io-client sends for ack(true)
        "312[]",
        "3/chat,7[true]",
        "0",
        '0{"token":"x"}',
        "1",
        '2["user_uttered",{"message":"hi"}]',
    ],
)
def test_packets_the_server_acts_on(packet):
    assert socketio_packet_ok(packet)


@pytest.mark.parametrize(
    "packet",
    [
        "3[true]",  # no id: nothing waits for it
        "31",  # no data
        '31{"a":1}',  # data not a list
        "31true",
        "30[true]",  # ids start at 1
        "3" + "9" * 20 + "[true]",
        '61-1[{"_placeholder":true,"num":0}]',  # binary: waits for attachments
        '51-["user_uttered",{"_placeholder":true,"num":0}]',
        "2[5]",
        "4",  # connect_error: only servers send it
        "9",
        "",
        b"31[true]",
    ],
)
def test_malformed_packets_are_refused(packet):
    assert not socketio_packet_ok(packet)
