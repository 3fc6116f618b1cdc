"""Read an event question from its whole text: place, format, period, topic, direction.

The NLU's entities miss what people actually write ("webinars", "in den nächsten 14
Tagen", "bavaria", "hambrug", "the next one"), so the actions read the message
themselves, with the rules of docs/event-questions.md. The entities the NLU did find
are used only where the text alone says nothing (a city missing from the lookup file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ofr.events.event_filter import EventFilter, format_code, place_and_format
from ofr.events.periods import Period, parse_period
from ofr.events.places import canonical, fold, place_names

# Cities that are also Länder: a question naming them means the city.
CITY_STATES = frozenset({"Berlin", "Hamburg", "Bremen"})
RECENT_DAYS = 90
# The label of the "lately" period; answers write it in the user's language.
RECENT_LABEL = "recent"

_ONLINE = re.compile(
    r"\b(online|virtual(?:ly)?|digital(?:ly)?|webinars?|web\s?sessions?|web\s?seminars?|"
    r"video\s?(?:calls?|conference)|zoom|teams[- ]meeting|remote(?:ly)?|from home|"
    r"livestream|live[- ]stream|virtuell\w*|digitale?[nrs]?|webinare?n?|"
    r"online[-\w]*|von zu ?hause|videokonferenz\w*)\b",
    re.I,
)
_IN_PERSON = re.compile(
    r"\b(in[- ]person|face[- ]to[- ]face|on[- ]?site|offline|physical(?:ly)?|"
    r"in real life|irl|vor ort|pr(?:ä|ae)senz\w*|pers(?:ö|oe)nlich\w*|"
    r"nicht online|not online|analog\w*|in the flesh|not on (?:a )?screen|"
    r"live(?= (?:events?|meetings?|sessions?|workshops?|veranstaltung\w*|treffen))|"
    r"meet(?: \w+)? live|leibhaftig)\b",
    re.I,
)
_HYBRID = re.compile(r"\bhybrid\w*\b", re.I)

_CLEAR = re.compile(
    r"\b(show (?:me )?(?:them )?all|all (?:the )?events|all of them|everything|"
    r"any (?:city|place|where|format)(?: is fine)?|doesn'?t matter|no filters?|"
    r"reset|start over|egal wo|egal wann|egal|alle anzeigen|alle zeigen|"
    r"zeig\w*(?: \w+)? alle|"
    r"alle veranstaltungen|alle termine|ohne filter|filter (?:weg|löschen|zurücksetzen)|"
    r"überall)\b",
    re.I,
)

_NOUNS_EN = (
    r"(?:ofr |oFR )?(?:event|meeting|session|workshop|date|one|get[- ]together|"
    r"thing|network meeting|webinar|conference|gathering|dialogue|training|appointment)s?"
)
_NEXT = re.compile(
    r"\b(?:(?:the|your|ur|ofr'?s?|when'?s|whens|whats|what's)\s+)?"
    r"(?:next|upcoming next|soonest|earliest|nearest)\s+(?!week|month|year|weekend|"
    r"days?|few|couple|two|three|four|\d)(?:[\w-]+\s+){0,2}?" + _NOUNS_EN + r"\b"
    r"|\bwhat(?:'s| is|s)? (?:coming )?next\b|\bnext up\b|\bcoming (?:up )?next\b"
    r"|\bnext one\b|\bnext\s*[?.!]*\s*$"
    r"|\b(?:meet|happening|on|coming|scheduled) next\b(?!\s+(?:week|month|year|weekend|"
    r"days?|few|couple|\d))"
    r"|\bn(?:ä|ae|a)chste[nrsm]?\s+(?!woche|monat|jahr|wochenende|tage?n?\b|\d)"
    r"(?:[\w-]+\s+)?[\w-]*(?:veranstaltung|termin|treffen|event|workshop|"
    r"webinar|sitzung|dialog|fortbildung|tagung|konferenz|mal)\w*"
    r"|\bals n(?:ä|ae|a)chste[ns]?\b|\bn(?:ä|ae|a)chster termin\b",
    re.I,
)
_LATEST = re.compile(
    r"\b(?:the )?(?:last|latest|most recent)\s+(?!week|month|year|\d)"
    + _NOUNS_EN
    + r"\b|\bletzte[nrsm]?\s+(?!woche|monat|jahr|wochenende|\d)"
    r"(?:ofr[- ])?(?:veranstaltung|termin|treffen|event|workshop|netzwerktreffen|"
    r"webinar|sitzung|dialog|fortbildung|tagung|konferenz|mal)\w*"
    r"|\bj(?:ü|ue)ngste[nrsm]? (?:veranstaltung|termin|treffen|event)\w*",
    re.I,
)
_RECENT = re.compile(
    r"\b(lately|recently|of late|in recent (?:weeks|months)|the other day|"
    r"not long ago|a while back|neulich|kürzlich|kuerzlich|vor kurzem|"
    r"in letzter zeit|in den letzten monaten|zuletzt|unl(?:ä|ae)ngst)\b",
    re.I,
)
_PAST = re.compile(
    r"\b(past|previous|earlier|former|history|archive|happened|took place|"
    r"did (?:ofr|you|they|the project) (?:do|have|organi[sz]e|hold|run)|"
    r"have there been|has there been|were there|was there|have been held|"
    r"vergangene\w*|fr(?:ü|ue)here\w*|bisherige\w*|gab es|gabs|gab's|"
    r"stattgefunden|fand\w* statt|war(?:en)? (?:da|schon)|hat es gegeben|"
    r"r(?:ü|ue)ckblick|was war|(?:what|which|where|when) was the|wo war|wann war)\b",
    re.I,
)
# Present-tense event questions ("gibt es was in Stuttgart?"): not about the history.
_PRESENT = re.compile(
    r"\b(?:is there|are there|will there|gibt es|gibt's|gibts|habt ihr|haben sie|"
    r"läuft|laeuft|findet|finden|steht|stehen)\b",
    re.I,
)
_UPCOMING = re.compile(
    r"\b(upcoming|coming up|planned|future|will there be|is there going to be|"
    r"geplant\w*|kommende\w*|anstehende\w*|demn(?:ä|ae)chst|zuk(?:ü|ue)nftige\w*|"
    r"wird es|steht an|stehen an)\b",
    re.I,
)

_MONTHS: Dict[str, int] = {}
for _month_number, _names in enumerate(
    (
        "january jan januar jänner",
        "february feb februar",
        "march mar märz maerz marz",
        "april apr",
        "may mai",
        "june jun juni",
        "july jul juli",
        "august aug",
        "september sep sept",
        "october oct oktober okt",
        "november nov",
        "december dec dezember dez",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _month_number
# "may" and "mar" are words too: they count as months only with a cue.
_AMBIGUOUS_MONTHS = {"may", "mar", "jun", "jul", "aug", "sep", "dec", "jan", "okt"}
_MONTH = re.compile(
    r"\b(?P<cue>in|im|during|for|of|early|late|mid|anfang|ende|mitte|ab|from|by|until|"
    r"bis|next|this|last|nächsten|naechsten|diesen|letzten)?\s*"
    r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
    r"(?:\s+(?P<year>(?:19|20)\d{2}))?\b",
    re.I,
)
_SEASONS = {
    "spring": 3,
    "frühjahr": 3,
    "fruehjahr": 3,
    "frühling": 3,
    "fruehling": 3,
    "summer": 6,
    "sommer": 6,
    "autumn": 9,
    "fall": 9,
    "herbst": 9,
    "winter": 12,
}
_SEASON = re.compile(
    r"\b(?P<cue>this|next|last|in|im|diesen|nächsten|naechsten|letzten|kommenden)?\s*"
    r"(?P<season>" + "|".join(_SEASONS) + r")(?:\s+(?P<year>(?:19|20)\d{2}))?\b",
    re.I,
)
_NUMBERS = {
    "one": 1,
    "a": 1,
    "two": 2,
    "couple of": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "ten": 10,
    "fourteen": 14,
    "ein": 1,
    "eine": 1,
    "einen": 1,
    "zwei": 2,
    "drei": 3,
    "vier": 4,
    "fünf": 5,
    "fuenf": 5,
    "sechs": 6,
    "sieben": 7,
    "acht": 8,
    "zehn": 10,
    "vierzehn": 14,
}
# "a few days / weeks / months": 7 / 28 / 90 days.
_VAGUE_COUNTS = {
    "few": (7, 28, 90),
    "a few": (7, 28, 90),
    "paar": (7, 28, 90),
    "ein paar": (7, 28, 90),
}
_COUNT_WORDS = sorted([*_NUMBERS, *_VAGUE_COUNTS], key=len, reverse=True)
_NUMBER = r"(?P<n>\d{1,3}|" + "|".join(_COUNT_WORDS) + r")"
_WINDOW = re.compile(
    r"\b(?:in|within|over|during|for|during|in den|innerhalb (?:der|von)|in der|"
    r"über die|binnen)?\s*(?:the\s+)?(?:next|coming|following|nächsten|naechsten|"
    r"kommenden|folgenden)\s+" + _NUMBER + r"\s+"
    r"(?P<unit>days?|weeks?|months?|tage?n?|wochen?|monate?n?)\b"
    r"|\b(?:in|within|innerhalb von|binnen)\s+"
    + _NUMBER.replace("?P<n>", "?P<n2>")
    + r"\s+(?P<unit2>days?|weeks?|months?|tage?n?|wochen?|monate?n?)\b",
    re.I,
)
_VAGUE_WINDOW = re.compile(
    r"\b(?:the\s+)?(?:next|coming|nächsten|naechsten|kommenden)\s+"
    r"(?P<unit>days|weeks|months|tagen|wochen|monaten)\b",
    re.I,
)
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")

# Topic keys of docs/event-questions.md. Strong words name a topic wherever they
# appear in an event question; weak ones ("return", "Beratung") are in almost every
# OFR question, so they count only after a cue ("on", "about", "zum Thema").
_STRONG_TOPICS: List[Tuple[str, str]] = [
    ("perspektive heimat", r"perspektive\s*heimat|perspective home(?:land)?"),
    ("reag/garp", r"reag\s*[/ -]?\s*garp|\breag\b|\bgarp\b"),
    ("starthilfeplus", r"starthilfe\s*plus|starthilfeplus|starthilfe\+"),
    ("corona", r"corona|covid|pandemi\w*"),
    ("women", r"wom[ae]n|female|frauen|\bfrau\b|r(?:ü|ue)ckkehrerinnen|returnee women"),
    ("children", r"children|\bkids?\b|minors|kinder\w*|minderjährig\w*|familien"),
    ("trafficking", r"trafficking|menschenhandel"),
    ("health", r"health|medical|gesundheit\w*|medizin\w*|krank\w*"),
    ("vulnerability", r"vulnerab\w*|verletzlich\w*|schutzbedürftig\w*"),
    ("pakistan", r"pakistan\w*"),
    ("afghanistan", r"afghanistan|afghan\w*"),
    ("iraq", r"iraq\w*|irak\w*"),
    ("syria", r"syria\w*|syrien|syrisch\w*"),
    ("nigeria", r"nigeria\w*"),
    ("regions of origin", r"regions? of origin|herkunftsregion\w*|herkunftsländer\w*"),
    ("networking", r"networking|vernetzung\w*|netzwerken"),
]
_WEAK_TOPICS: List[Tuple[str, str]] = [
    ("reintegration", r"reintegration\w*|re-integration"),
    ("counselling", r"counsel+ing|advice|beratung\w*|rückkehrberatung\w*"),
    ("return", r"return\w*|rückkehr\w*|rueckkehr\w*"),
]
_TOPIC_CUE = (
    r"(?:on|about|regarding|concerning|covering|around|focus(?:ed|ing)? on|re:?|"
    r"on the (?:topic|subject|theme) of|dealing with|"
    r"zum thema|zu|zur|zum|über|ueber|bzgl\.?|bezüglich|rund um|thema|mit fokus auf)"
)
_STRONG = [
    (key, re.compile(rf"(?:{pattern})", re.I)) for key, pattern in _STRONG_TOPICS
]
_EVENT_NOUN = (
    r"(?:workshops?|events?|sessions?|meetings?|webinars?|seminars?|trainings?|"
    r"veranstaltung\w*|treffen|termine?|seminare?|fortbildung\w*|austausch\w*)"
)
_WEAK_BEFORE_NOUN = [
    (key, re.compile(rf"\b(?:{pattern})[\s-]+{_EVENT_NOUN}\b", re.I))
    for key, pattern in _WEAK_TOPICS
]
_WEAK = [
    (
        key,
        re.compile(
            rf"\b{_TOPIC_CUE}\s+(?:the\s+|die\s+|der\s+|freiwillige[rn]?\s+|"
            rf"voluntary\s+|nachhaltige[rn]?\s+|sustainable\s+)*(?:{pattern})",
            re.I,
        ),
    )
    for key, pattern in _WEAK_TOPICS
]

# Words close to a place name that are not places ("Sachen" ~ "Sachsen").
_NOT_PLACES = frozenset(
    fold(word)
    for word in (
        "sachen machen essen hessen messen hallo halle wesen besen bremse "
        "bayer berlinale hamburger kölsch weiter events meeting meetings online "
        "treffen termin termine woche wochen monate monaten dresdner erste "
        "ersten letzte letzten bitte danke thanks infos information informationen "
        "sachsens leipziger sieben siebzehn grüßen gruessen morgen massen hessens "
        "bremer berliner hamburgs kölner münchner stadt städte staedte "
        "leben lieben loben halten"
    ).split()
)
_TOKEN = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
# Annotated entities in training examples: "[Hamburg](city)", "[vor Ort]{...}".
_ANNOTATED = re.compile(r"\[[^\]]*\](?:\([^)]*\)|\{[^}]*\})")
NLU_DIR = Path(__file__).resolve().parents[2] / "data" / "nlu"


@dataclass(frozen=True)
class _Place:
    name: str
    is_state: bool


@lru_cache(maxsize=1)
def _place_table() -> Dict[str, _Place]:
    """Every spelling of every place in the lookup file, folded, to its name."""
    table: Dict[str, _Place] = {}
    for spelling, name, is_state in place_names():
        key = fold(spelling)
        if len(key) < 3:
            continue  # "SH", "BW", "MV" are too ambiguous inside a sentence
        table[key] = _Place(name, is_state and name not in CITY_STATES)
    return table


@lru_cache(maxsize=1)
def _common_words() -> frozenset:
    """Words the training data uses as plain words (not places): never a misspelt place.

    "sieben", "schwierig" or "number" are one or two letters from a city's name.
    """
    counts: Dict[str, int] = {}
    for path in NLU_DIR.glob("*/*.yml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line.startswith("- "):
                continue
            plain = _ANNOTATED.sub(" ", line[2:])
            for match in _TOKEN.finditer(plain):
                word = fold(match.group(0))
                counts[word] = counts.get(word, 0) + 1
    table = _place_table()
    return frozenset(w for w, n in counts.items() if n >= 2 and w not in table)


def _edits(a: str, b: str) -> int:
    """Optimal string alignment distance: typos, missing letters and swapped pairs."""
    previous2: List[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            cost = char_a != char_b
            current[j] = min(
                previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost
            )
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


@lru_cache(maxsize=4096)
def _fuzzy_place(token: str) -> Optional[_Place]:
    """A misspelt place: one edit in a short name, two in a long one, same first letter."""
    if len(token) < 5 or token in _NOT_PLACES or token in _common_words():
        return None
    allowed = 1 if len(token) < 10 else 2
    best: Optional[Tuple[int, str]] = None
    for key in _place_table():
        if key[0] != token[0] or len(key) < 5 or abs(len(key) - len(token)) > allowed:
            continue
        distance = _edits(token, key)
        if distance <= allowed and (best is None or distance < best[0]):
            best = (distance, key)
    return _place_table()[best[1]] if best else None


def find_place(text: str) -> Optional[_Place]:
    """The last place named in ``text``: exact spellings first, then near misses."""
    tokens = [fold(m.group(0)) for m in _TOKEN.finditer(text)]
    table = _place_table()
    found: List[Tuple[int, _Place]] = []
    taken: set = set()
    for size in (4, 3, 2, 1):
        for start in range(len(tokens) - size + 1):
            span = range(start, start + size)
            if taken.intersection(span):
                continue
            key = "".join(tokens[start : start + size])
            place = table.get(key)
            if place is None and size == 1:
                place = _fuzzy_place(key)
            if place is not None:
                found.append((start, place))
                taken.update(span)
    if not found:
        return None
    return max(found, key=lambda item: item[0])[1]


def find_format(text: str) -> Optional[str]:
    """online / in_person / hybrid when the text says so, None when it names both."""
    if _HYBRID.search(text):
        return "hybrid"
    online = bool(_ONLINE.search(_without_place_words(text)))
    in_person = bool(_IN_PERSON.search(text))
    if online and in_person:
        return None
    return "online" if online else "in_person" if in_person else None


def _without_place_words(text: str) -> str:
    # "Online-Veranstaltung" is online; "nicht online" is handled by _IN_PERSON.
    return re.sub(r"\b(?:nicht|not) online\b", " ", text, flags=re.I)


def find_topic(text: str) -> Optional[str]:
    """The topic key the text asks about; the most specific one when several.

    Of several specific topics, the one after a cue ("speziell zu Pakistan") wins,
    else the last one named.
    """
    strong = []
    for key, pattern in _STRONG:
        for match in pattern.finditer(text):
            before = text[: match.start()].rstrip().lower()
            cued = bool(re.search(rf"\b{_TOPIC_CUE}$", before))
            strong.append((cued, match.start(), key))
    if strong:
        return max(strong)[2]
    for key, pattern in _WEAK:
        if pattern.search(text):
            return key
    for key, pattern in _WEAK_BEFORE_NOUN:
        if pattern.search(text):
            return key
    return None


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _number(value: str) -> int:
    value = value.lower()
    return int(value) if value.isdigit() else _NUMBERS[value]


def _window_days(count_word: str, unit: str) -> int:
    """Days in "the next N weeks"; "a few days / weeks / months" is 7 / 28 / 90."""
    vague = _VAGUE_COUNTS.get(count_word.lower())
    if vague:
        unit = unit.lower()
        if unit.startswith(("week", "woche")):
            return vague[1]
        return vague[2] if unit.startswith(("month", "monat")) else vague[0]
    return _days(_number(count_word), unit)


def _days(count: int, unit: str) -> int:
    unit = unit.lower()
    if unit.startswith(("week", "woche")):
        return 7 * count
    if unit.startswith(("month", "monat")):
        return 30 * count
    return count


def find_period(
    text: str, language: str, today: date, past: bool = False
) -> Tuple[Optional[Period], bool]:
    """The period the text names and whether it is over (a past question).

    ``past`` says the question is about the history, which decides whether "im März"
    means the last or the next March.
    """
    lowered = text.lower()

    def as_written(match: re.Match[str]) -> str:
        """The phrase as the user wrote it, for the answer's "(in March)"."""
        if len(lowered) != len(text):
            return match.group(0)
        return text[match.start() : match.end()]

    def span(start: date, end: date, label: str) -> Tuple[Period, bool]:
        return Period(start, end, label), end <= today

    rules: List[Tuple[str, Any]] = [
        (
            r"\b(?:today|tonight|heute)\b",
            lambda m: span(today, today + timedelta(1), m),
        ),
        (
            r"\b(?:tomorrow|(?<!guten )(?<!gute[nm] )morgen)\b(?! früh)",
            lambda m: span(today + timedelta(1), today + timedelta(2), m),
        ),
        (
            r"\b(?:(?:this|the|am|an diesem|dieses|diesem|kommendes|am kommenden)\s+)"
            r"(?:weekend|wochenende)\b",
            lambda m: span(
                _monday(today) + timedelta(5), _monday(today) + timedelta(7), m
            ),
        ),
        (
            r"\b(?:next|nächste|naechste|kommende)\s+(?:week|woche)\b"
            r"|\bin der (?:nächsten|naechsten|kommenden) woche\b",
            lambda m: span(
                _monday(today) + timedelta(7), _monday(today) + timedelta(14), m
            ),
        ),
        (
            r"\b(?:last|previous|letzte|vergangene)n?\s+(?:week|woche)\b",
            lambda m: span(_monday(today) - timedelta(7), _monday(today), m),
        ),
        (
            r"\b(?:this|current|diese|dieser|in dieser|laufende)[rn]?\s+(?:week|woche)\b",
            lambda m: span(_monday(today), _monday(today) + timedelta(7), m),
        ),
        (
            r"\b(?:next|nächste[nm]?|naechste[nm]?|kommende[nm]?|im kommenden)\s+"
            r"(?:month|monat)\b",
            lambda m: span(
                _month_start(today.year, today.month + 1),
                _month_start(today.year, today.month + 2),
                m,
            ),
        ),
        (
            r"\b(?:last|previous|letzte[nm]?|vergangene[nm]?|im letzten|im vergangenen)"
            r"\s+(?:month|monat)\b",
            lambda m: span(
                _month_start(today.year, today.month - 1),
                _month_start(today.year, today.month),
                m,
            ),
        ),
        (
            r"\b(?:this|current|diese[nm]?|in diesem|im laufenden|laufende[nm]?)\s+"
            r"(?:month|monat)\b",
            lambda m: span(
                _month_start(today.year, today.month),
                _month_start(today.year, today.month + 1),
                m,
            ),
        ),
        (
            r"\b(?:before|by|until|till|ahead of|vor|bis)\s+(?:christmas|xmas|x-mas|"
            r"weihnachten|den feiertagen|the holidays)\b",
            lambda m: span(today, _christmas_eve(today), m),
        ),
        (
            r"\b(?:by|before|until|till|bis)\s+(?:the\s+)?(?:end of (?:the|this) year|"
            r"year'?s end|year end|new year|jahresende|ende des jahres|zum jahresende|"
            r"silvester|neujahr)\b|\bbis ende (?:des jahres|dezember)\b",
            lambda m: span(today, date(today.year + 1, 1, 1), m),
        ),
        (
            r"\b(?:next|nächste[sn]?|naechste[sn]?|kommende[sn]?|im kommenden)\s+"
            r"(?:year|jahr)\b",
            lambda m: span(date(today.year + 1, 1, 1), date(today.year + 2, 1, 1), m),
        ),
        (
            r"\b(?:last|previous|letzte[sn]?|vergangene[sn]?|im letzten|im vergangenen)"
            r"\s+(?:year|jahr)\b",
            lambda m: span(date(today.year - 1, 1, 1), date(today.year, 1, 1), m),
        ),
        (
            r"\b(?:this|current|dieses|diesem|in diesem|im laufenden)\s+(?:year|jahr)\b",
            lambda m: span(date(today.year, 1, 1), date(today.year + 1, 1, 1), m),
        ),
    ]
    for pattern, build in rules:
        match = re.search(pattern, lowered)
        if match:
            return build(as_written(match))

    window = _WINDOW.search(lowered)
    if window:
        count = window.group("n") or window.group("n2")
        unit = window.group("unit") or window.group("unit2")
        return span(
            today, today + timedelta(_window_days(count, unit)), as_written(window)
        )
    vague = _VAGUE_WINDOW.search(lowered)
    if vague:
        unit = vague.group("unit")
        length = 7 if unit.startswith(("day", "tag")) else 28
        if unit.startswith(("month", "monat")):
            length = 90
        return span(today, today + timedelta(length), as_written(vague))
    if re.search(r"\b(?:in the next few days|in den nächsten tagen)\b", lowered):
        return span(today, today + timedelta(7), "next days")

    season = _SEASON.search(lowered)
    if season:
        return _season(season, today, past)
    for month in _MONTH.finditer(lowered):
        name = month.group("month").lower()
        if name in _AMBIGUOUS_MONTHS and not (
            month.group("cue") or month.group("year")
        ):
            continue
        return _month(month, today, past)
    year = _YEAR.search(lowered)
    if year:
        number = int(year.group(0))
        return span(date(number, 1, 1), date(number + 1, 1, 1), year.group(0))
    return None, False


def _christmas_eve(today: date) -> date:
    eve = date(today.year, 12, 24)
    return eve if eve > today else date(today.year + 1, 12, 24)


def _month(match: re.Match[str], today: date, past: bool) -> Tuple[Period, bool]:
    number = _MONTHS[match.group("month").lower()]
    cue = (match.group("cue") or "").lower()
    if match.group("year"):
        year = int(match.group("year"))
    elif cue in ("last", "letzten") or past:
        year = today.year if number <= today.month else today.year - 1
    elif cue in ("next", "nächsten", "naechsten"):
        year = today.year if number > today.month else today.year + 1
    else:
        year = today.year if number >= today.month else today.year + 1
    start = date(year, number, 1)
    end = _month_start(year, number + 1)
    return Period(start, end, match.group(0).strip()), end <= today


def _season(match: re.Match[str], today: date, past: bool) -> Tuple[Period, bool]:
    first = _SEASONS[match.group("season").lower()]
    cue = (match.group("cue") or "").lower()
    if match.group("year"):
        start = date(int(match.group("year")), first, 1)
    else:
        # The season that contains today, or the next one (winter spans new year).
        start = date(today.year, first, 1)
        if first == 12 and today.month <= 2:
            start = date(today.year - 1, 12, 1)
        if cue in ("last", "letzten") or past:
            while start > today:
                start = date(start.year - 1, first, 1)
        else:
            while _month_start(start.year, start.month + 3) <= today:
                start = date(start.year + 1, first, 1)
            if cue in ("next", "nächsten", "naechsten", "kommenden") and start <= today:
                start = date(start.year + 1, first, 1)
    end = _month_start(start.year, start.month + 3)
    return Period(start, end, match.group(0).strip()), end <= today


# Words after a cue that name no topic: articles, pronouns, event nouns, time words.
_NOT_TOPIC_WORDS = frozenset(
    """
    a an the any anything something some this that these those it them me us you my
    our your der die das den dem des ein eine einen einem einer was etwas irgendwas
    mich uns dich euch ihnen ihr sie es dies diese diesen diesem dieser thema topic
    subject theme events event ofr option freiwillige rueckkehr return returns
    voluntary next coming upcoming this last past month months week weeks weekend
    year years day days today tomorrow tonight now soon later morgen heute bald
    monat monate monaten woche wochen wochenende jahr jahre jahren tag tage tagen
    naechste naechsten naechstes kommende kommenden diesen letzte letzten
    online digital virtual virtually person site vor ort hybrid live presence
    in im am an at on of for from to with by und and or oder also too please pls bitte
    plz thanks danke mal so da dazu drueber darueber there here hier dort
    january february march april may june july august september october november
    december januar februar maerz mai juni juli oktober dezember jan feb mar apr
    jun jul aug sep sept oct okt nov dec dez monday tuesday wednesday thursday friday
    saturday sunday montag dienstag mittwoch donnerstag freitag samstag sonntag
    spring summer autumn fall winter fruehling fruehjahr sommer herbst
    germany deutschland bundesweit nationwide anywhere ueberall
    counsellors counselors counsellor counselor practitioners professionals staff
    volunteers volunteer beginners newcomers everyone everybody people us all
    berater beraterinnen beratende rueckkehrberatende fachleute fachkraefte
    ehrenamtliche ehrenamtlichen ehrenamt kommunen municipalities alle jeden
    geplant planned scheduled happening coming stattfindet stattfinden statt gibt
    gibts los soon bald dazu davon there home hause zuhause house ones one help
    veranstaltung besuchen attend visit join aus von zu vom new neue neuen neu
    latest changes change more other others weitere andere anderen clients
    calendar kalender agenda schedule programm program where when what which who how
    they them wo wann wie wer mitmachen teilnehmen participate dabei show up sowas klienten leute people many viele
    """.split()
)
_FREE_CUE = (
    rf"(?:{_TOPIC_CUE}|"
    r"(?:davon|of them|of these|of those)\s+(?:\w+\s+)?(?:for|für|fuer)|"
    r"(?:events?|anything|something|any|was|etwas|irgendwas|veranstaltung\w*|"
    r"termine?|workshops?|meetings?|sessions?)\s+(?:for|für|fuer)|"
    r"(?:people|clients|returnees|leute|klienten|menschen|rückkehrende\w*)\s+"
    r"(?:from|aus))"
)
_FREE_TOPIC = re.compile(
    rf"\b{_FREE_CUE}\s+((?:[^\W\d_][\w'-]*)(?:\s+[^\W\d_][\w'-]*){{0,2}})",
    re.I,
)
_SENTENCE = re.compile(r"[^.!?]*[?]|[^.!?]+$")


def find_free_topic(text: str) -> Optional[str]:
    """A theme or region the topic table does not know ("anything on the Western
    Balkans?"): the words right after a cue in the asking sentence, matched against
    titles and descriptions. Places, formats, periods and filler words are not
    topics."""
    asking = [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0).strip()]
    questions = [part for part in asking if part.rstrip().endswith("?")] or asking
    for match in _FREE_TOPIC.finditer(" ".join(questions)):
        kept: List[str] = []
        for word in match.group(1).split():
            folded = fold(word)
            noun = re.fullmatch(_EVENT_NOUN, word, re.I) is not None
            if folded in _NOT_TOPIC_WORDS or len(folded) < 3 or noun:
                if kept:
                    break
                continue
            kept.append(word.strip("'-").lower())
        if not kept:
            continue
        phrase = " ".join(kept)
        if find_place(phrase) is not None or find_format(phrase) is not None:
            continue
        if _MONTH.search(phrase) or _YEAR.search(phrase):
            continue
        return phrase
    return None


def find_direction(text: str, intent: Optional[str]) -> Optional[str]:
    """next / latest / past / upcoming when the wording says which; None otherwise."""
    if _LATEST.search(text):
        return "latest"
    if _NEXT.search(text):
        return "next"
    if _RECENT.search(text):
        return "past"
    if intent == "ask_past_events" or _PAST.search(text):
        return "past"
    if _UPCOMING.search(text):
        return "upcoming"
    return None


def _entity(entities: Iterable[Dict[str, Any]], name: str) -> Optional[str]:
    for entity in entities:
        if entity.get("entity") == name and entity.get("value"):
            return str(entity["value"])
    return None


def read_question(
    text: str,
    language: str,
    today: date,
    previous: Optional[EventFilter] = None,
    intent: Optional[str] = None,
    entities: Iterable[Dict[str, Any]] = (),
) -> EventFilter:
    """The filter to search with for ``text``.

    ``previous`` is the conversation's current filter: a follow-up
    (``inform_event_filter``) changes it, any other question starts afresh. For
    ``ask_event_details`` format words are the question ("on site or online?"), not
    a filter.
    """
    entities = list(entities)
    followup = previous is not None and intent == "inform_event_filter"
    base = previous if followup and previous is not None else EventFilter()
    if followup and _CLEAR.search(text):
        base = EventFilter()

    direction = find_direction(text, None)
    recent = bool(_RECENT.search(text))
    past_question = direction in ("past", "latest") or (
        direction is None
        and (intent == "ask_past_events" or base.scope in ("past", "latest"))
    )
    period, over = find_period(text, language, today, past=past_question)
    if period is None and recent:
        period = Period(today - timedelta(RECENT_DAYS), today, RECENT_LABEL)
        over = True
    if period is None:
        phrase = _entity(entities, "date")
        if phrase:
            parsed = parse_period(
                phrase, language, today, "past" if past_question else "future"
            )
            if parsed:
                period, over = parsed, parsed.end <= today

    if (
        direction is None
        and intent == "ask_past_events"
        and (over or (period is None and not _PRESENT.search(text)))
    ):
        # Asked about the history; a period still to come or "is there" say otherwise.
        direction = "past"

    changes: Dict[str, Any] = {}
    if direction is not None:
        changes["scope"] = direction
    elif over:
        changes["scope"] = "past"
    elif not followup:
        changes["scope"] = "upcoming"
    if over and changes.get("scope") in (None, "upcoming", "next"):
        changes["scope"] = "past"
    if period is not None:
        changes["period"] = period
    if changes.get("scope") == "latest" and period is not None and recent:
        changes.pop("period")  # "the last event recently": just the last one

    place = find_place(text)
    if place is None:
        for name, is_state in (("city", False), ("state", True)):
            value = canonical(_entity(entities, name))
            if value and fold(value) not in _NOT_PLACES and not _looks_like_time(value):
                place = _Place(value, is_state and value not in CITY_STATES)
    fmt = None
    if intent != "ask_event_details":
        fmt = find_format(text) or format_code(_entity(entities, "format"))
    changes.update(
        place_and_format(
            base,
            None if place is None else "state" if place.is_state else "city",
            None if place is None else place.name,
            fmt,
        )
    )
    topic = find_topic(text)
    if topic is None and text.startswith("/"):
        topic = _entity(entities, "topic")  # a button's or a follow-up's payload
    elif topic is None and intent != "ask_event_details":
        topic = find_free_topic(text)
    if topic:
        changes["topic"] = topic
    return base.changed(**changes)


def _looks_like_time(value: str) -> bool:
    return bool(_MONTH.fullmatch(value.lower()) or _YEAR.fullmatch(value))
