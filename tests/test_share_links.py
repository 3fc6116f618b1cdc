"""Telegram deep links and the QR codes of make share-links."""

from __future__ import annotations

from pathlib import Path

import pytest

from ofr import deep_links
from ofr.events.event_filter import filter_key
from ofr_tools import share_links


@pytest.mark.parametrize(
    "payload, question, subscription",
    [
        ("events", "/ask_events", None),
        (
            "e-ofr-2027-hamburg",
            '/ask_event_details{"event_id": "ofr-2027-hamburg"}',
            None,
        ),
        ("q-ask_perspektive_heimat", "/ask_perspektive_heimat", None),
        (
            deep_links.start_payload_for_subscription("state=Thüringen"),
            None,
            "state=Thüringen",
        ),
        (deep_links.start_payload_for_subscription(filter_key({})), None, "all"),
    ],
)
def test_links_read_back_to_what_they_open(payload, question, subscription) -> None:
    assert len(payload) <= 64 and payload.replace("-", "").replace("_", "").isalnum()
    opened = deep_links.read(payload)
    assert opened == deep_links.DeepLink(question=question, subscription=subscription)


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "e-UPPER",
        "q-greet",
        'q-ask_x{"a":1}',
        "s-!!!",
        "x-1",
        "e-" + "a" * 70,
        "s-/w==",
    ],
)
def test_anything_else_opens_nothing(payload) -> None:
    assert deep_links.read(payload) is None


def test_share_links_writes_png_svg_and_an_index(tmp_path: Path, capsys) -> None:
    assert share_links.main(["--bot", "@ofr_test_bot", "--out", str(tmp_path)]) == 0
    index = (tmp_path / "index.md").read_text(encoding="utf-8")
    assert "https://t.me/ofr_test_bot?start=events" in index
    assert (tmp_path / "events.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "alerts-all.svg").read_text().lstrip().startswith("<?xml")
    for line in index.splitlines()[4:]:
        payload = line.split("?start=", 1)[1].split(" ", 1)[0]
        assert deep_links.read(payload) is not None, line
    assert "Wrote" in capsys.readouterr().out


def test_a_wrong_bot_name_is_one_sentence(tmp_path: Path, capsys) -> None:
    assert share_links.main(["--bot", "no", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
