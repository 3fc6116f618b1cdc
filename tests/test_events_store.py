"""The events store: loading, validation messages, reload and last-good fallback."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from ofr.events.model import EventsFileError, parse_events
from ofr.events.store import EventsStore
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "events.yml"

GOOD_ENTRY = """
  - id: {id}
    title: {{en: "Meeting", de: "Treffen"}}
    start: 2027-01-10T10:00:00+01:00
    format: online
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    # Make sure the modification time differs even on coarse file systems.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    return path


def test_project_events_file_is_valid() -> None:
    events = parse_events(ROOT / "data" / "events.yml")
    ids = [e.id for e in events]
    assert "ofr-2022-neu-ulm-pakistan" in ids and "ofr-2023-nuremberg" in ids
    assert len(ids) == len(set(ids))


def test_fixture_loads_sorted_by_start() -> None:
    events = EventsStore(FIXTURE).events()
    starts = [e.starts_at for e in events]
    assert starts == sorted(starts)
    assert len(events) == 7


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            '  - id: a\n    title: {en: "A"}\n    start: 2027-01-01\n    format: online\n',
            "entry 1 (id a): title.de is missing",
        ),
        (
            '  - id: b\n    title: {en: "B", de: "B"}\n    start: 2027-01-01\n    format: webinar\n',
            "entry 1 (id b): format must be one of",
        ),
        (
            '  - id: c\n    title: {en: "C", de: "C"}\n    start: 2027-01-02\n    end: 2027-01-01\n'
            "    format: online\n",
            "entry 1 (id c): end is before start",
        ),
        (
            '  - id: d\n    title: {en: "D", de: "D"}\n    start: 2027-01-02\n    format: in_person\n',
            "entry 1 (id d): city is required unless the event is online",
        ),
        (
            '  - id: e\n    title: {en: "E", de: "E"}\n    start: 2027-01-02\n    format: online\n'
            "    citty: Bonn\n",
            "entry 1 (id e): citty is not a known field",
        ),
    ],
)
def test_validation_names_file_entry_and_field(
    tmp_path: Path, entry: str, expected: str
) -> None:
    path = write(tmp_path / "events.yml", "events:\n" + entry)
    with pytest.raises(EventsFileError) as error:
        parse_events(path)
    assert str(path) in str(error.value)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    "url",
    [
        'https://example.org/"><script>alert(1)</script>',
        "https://example.org/anmeldung hamburg",
        "https://example.org/<b>",
        "javascript:alert(1)",
        "ftp://example.org/file",
        "https:///anmeldung",
        "https://localhost/anmeldung",
        "https://iom.int@evil.example/login",
    ],
)
def test_a_registration_url_must_be_a_web_address(
    tmp_path: Path, url: str, capsys, monkeypatch
) -> None:
    """Issue 29: ``https://example.org/"><script>…`` was accepted as a URL."""
    from ofr_tools import check_events

    entry = GOOD_ENTRY.format(id="r") + f"    registration_url: '{url}'\n"
    path = write(tmp_path / "events.yml", "events:" + entry)
    with pytest.raises(EventsFileError) as error:
        parse_events(path)
    assert "entry 1 (id r): registration_url must " in str(error.value)
    assert "https://example.org/anmeldung" in str(error.value)  # what to write
    # ofr-check-events (make validate, the console's check) says the same.
    monkeypatch.setattr("sys.argv", ["ofr-check-events", str(path)])
    assert check_events.main() == 1
    assert "registration_url must" in capsys.readouterr().err


@pytest.mark.parametrize(
    "url",
    [
        "https://www.iom.int/de/anmeldung?stadt=Hamburg&tag=2#formular",
        "http://example.org",
        "https://example.org/%22quoted%22",
    ],
)
def test_ordinary_registration_urls_are_accepted(tmp_path: Path, url: str) -> None:
    entry = GOOD_ENTRY.format(id="r") + f"    registration_url: '{url}'\n"
    path = write(tmp_path / "events.yml", "events:" + entry)
    [event] = parse_events(path)
    assert str(event.registration_url) == url


def test_duplicate_id(tmp_path: Path) -> None:
    path = write(tmp_path / "events.yml", "events:" + GOOD_ENTRY.format(id="x") * 2)
    with pytest.raises(EventsFileError, match="duplicate id 'x'"):
        parse_events(path)


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "events.yml", "events:\n  - id: a\n   title: [\n")
    with pytest.raises(EventsFileError, match=r"line \d+"):
        parse_events(path)


def test_reload_on_change_and_last_good_fallback(tmp_path: Path, caplog) -> None:
    path = write(tmp_path / "events.yml", "events:" + GOOD_ENTRY.format(id="first"))
    store = EventsStore(path)
    assert [e.id for e in store.events()] == ["first"]

    write(
        path, "events:" + GOOD_ENTRY.format(id="first") + GOOD_ENTRY.format(id="second")
    )
    assert [e.id for e in store.events()] == ["first", "second"]

    caplog.set_level(logging.ERROR)
    write(path, "events:\n  - id: broken\n")
    for _ in range(3):
        assert [e.id for e in store.events()] == ["first", "second"]
    reports = [r for r in caplog.records if "Events file not loaded" in r.getMessage()]
    assert len(reports) == 1, "a broken file is reported once"
    assert "entry 1 (id broken)" in store.error

    write(path, "events:" + GOOD_ENTRY.format(id="fixed"))
    assert [e.id for e in store.events()] == ["fixed"]
    assert store.error is None


def test_unchanged_file_is_not_read_again(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "events.yml"
    shutil.copy(FIXTURE, path)
    store = EventsStore(path)
    store.events()
    calls = []
    monkeypatch.setattr(
        "ofr.events.store.parse_events", lambda p: calls.append(p) or []
    )
    store.events()
    store.events()
    assert calls == []


def test_missing_file_is_reported(tmp_path: Path) -> None:
    store = EventsStore(tmp_path / "nope.yml")
    assert store.events() == []
    assert "does not exist" in store.error
