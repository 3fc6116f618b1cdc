"""The .ics files: RFC 5545 essentials, parsed back with icalendar."""

from __future__ import annotations

from datetime import date, datetime, timezone

from icalendar import Calendar

from ofr.events.calendar import ics
from ofr.events.store import EventsStore
from tests.conftest import ROOT

EVENTS = {
    e.id: e for e in EventsStore(ROOT / "tests" / "fixtures" / "events.yml").events()
}
STAMP = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def parse(data: bytes):
    calendar = Calendar.from_ical(data)
    events = [c for c in calendar.walk() if c.name == "VEVENT"]
    assert len(events) == 1
    return calendar, events[0]


def test_timed_event_has_uid_stamp_and_berlin_times():
    data = ics(EVENTS["test-2027-hamburg"], "de", now=STAMP)
    calendar, event = parse(data)
    assert calendar["VERSION"] == "2.0" and calendar["PRODID"]
    assert str(event["UID"]) == "test-2027-hamburg@ofr-assistant"
    assert event["DTSTAMP"].dt == STAMP
    start, end = event["DTSTART"], event["DTEND"]
    assert (
        start.params["TZID"] == "Europe/Berlin"
        and end.params["TZID"] == "Europe/Berlin"
    )
    assert start.dt.isoformat() == "2027-02-03T10:00:00+01:00"
    assert end.dt.isoformat() == "2027-02-03T16:00:00+01:00"
    assert str(event["SUMMARY"]) == "Netzwerktreffen Hamburg"
    assert str(event["LOCATION"]) == "Rathaus, Hamburg"
    assert str(event["URL"]) == "https://example.org/register/hamburg"
    # The time zone the times refer to is defined in the file itself.
    assert [c["TZID"] for c in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert b"\r\n" in data, "lines end in CRLF as RFC 5545 asks"


def test_all_day_event_uses_dates():
    _, event = parse(ics(EVENTS["test-2027-munich"], "en", now=STAMP))
    assert event["DTSTART"].dt == date(2027, 3, 10)
    assert event["DTEND"].dt == date(2027, 3, 11)
    assert str(event["SUMMARY"]) == "Workshop Munich"


def test_online_event_location():
    _, event = parse(ics(EVENTS["test-2026-online-women"], "en", now=STAMP))
    assert str(event["LOCATION"]) == "Online"
