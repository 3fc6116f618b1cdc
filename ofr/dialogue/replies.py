"""Plain answers to the bot's own questions: yes, no, or which of the options.

People answer a question in a word or two, informally, with or without "please",
in either language and with typos ("ja", "jo", "yep", "nope", "nö", "das zweite").
A longer message, or one that asks something, is no such answer: it is read as a
question of its own and the bot's question stays open.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Optional, Sequence

YES_WORDS = frozenset(
    """
    yes yess yeah yea yeh yep yup yas ya y ye ok okay okey k kk sure surely alright
    right correct exactly absolutely definitely certainly affirmative fine great
    good perfect please pls plz go ahead do it sounds good of course ofc indeed
    ja jaa jaaa jo joa jap jep jup japp yo klar klaro sicher gerne gern bitte
    genau richtig passt passt schon okidoki oki mach machen tun sie tu es los
    natuerlich selbstverstaendlich einverstanden unbedingt freilich jawohl gut
    in ordnung auf jeden fall sehr gern sehr gerne bitte sehr bitte schoen
    weiter weitergeben loeschen delete it thats right that's right yes please
    """.split()
)
NO_WORDS = frozenset(
    """
    no nope nah naw nay n not no thanks thank you never don't dont do not
    rather not keep it keep cancel stop abort negative no way
    nein nee ne noe nö nö nicht lieber nicht danke nein danke bloss nicht
    auf keinen fall niemals abbrechen behalten lass es lassen sie es stopp
    """.split()
)
# Words that say nothing either way ("yes please" is yes, "no thanks" is no).
FILLERS = frozenset(
    """
    please pls plz thanks thank thx you danke bitte schon schoen mal doch einfach
    oh well hmm ah also so then now it that this das es the just yeah
    i we would like to will ich wir wuerde gerne gern do mach machs tu tue
    ach sorry doch lieber jetzt kannst du now go ahead ja right then ok
    """.split()
)
_NEGATORS = frozenset(
    {"no", "nope", "nah", "not", "dont", "never", "nein", "nee", "ne", "noe", "nicht"}
)
AFFIRMERS = frozenset(
    {
        "yes", "yeah", "yep", "yup", "sure", "ok", "okay", "ja", "jo", "jap", "klar",
        "gerne", "gern", "genau", "y", "ya", "yea", "jep", "jup", "japp", "alright",
        "absolutely", "definitely", "certainly", "correct", "einverstanden",
        "natuerlich", "sicher", "okey", "k", "kk", "oki", "okidoki", "passt",
    }
)  # fmt: skip

THANKS = frozenset({"thanks", "thank", "thx", "danke", "merci"})

ORDINALS = {
    1: r"first|1st|erste[nmrs]?|erstes?|eins",
    2: r"second|2nd|two|zweite[nmrs]?|zweites?|zwei",
    3: r"third|3rd|three|dritte[nmrs]?|drittes?|drei",
    4: r"fourth|4th|four|vierte[nmrs]?|viertes?|vier",
    5: r"fifth|5th|five|fuenfte[nmrs]?|fuenftes?|fuenf",
    6: r"sixth|6th|six|sechste[nmrs]?|sechstes?|sechs",
}
_LAST = r"last|letzte[nmrs]?|letztes?"
_PERIOD = re.compile(
    r"\b(?:last|first|second|next|this|letzte\w*|erste\w*|zweite\w*|naechste\w*|"
    r"diese\w*)\s+(?:month|week|year|weekend|time|day|half|monat\w*|woche\w*|"
    r"jahr\w*|wochenende|mal|tag\w*|haelfte)\b"
)
MAX_WORDS = 6


def fold(text: str) -> str:
    """Lower case, umlauts written out, accents and punctuation dropped."""
    text = text.lower().replace("ß", "ss")
    for umlaut, written in (("ä", "ae"), ("ö", "oe"), ("ü", "ue")):
        text = text.replace(umlaut, written)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[’']", "", text)
    return re.sub(r"[^\w/#]+", " ", text).strip()


def words(text: str) -> list:
    return fold(text).split()


def is_question(text: str) -> bool:
    return "?" in text and len(words(text)) > 2


def read_yes_no(text: str) -> Optional[bool]:
    """True for a plain yes, False for a plain no, None for anything else."""
    if is_question(text):
        return None
    found = words(text)
    if not found or len(found) > MAX_WORDS:
        return None
    negative = any(w in _NEGATORS for w in found)
    affirmative = any(w in AFFIRMERS for w in found)
    content = [w for w in found if w not in FILLERS]
    if negative and affirmative:
        return None  # "yes, don't", "not sure"
    if negative or (content and all(w in NO_WORDS for w in content)):
        unknown = [w for w in content if w not in NO_WORDS and w not in _NEGATORS]
        return False if len(unknown) <= 1 else None
    if affirmative or (content and all(w in YES_WORDS for w in content)):
        unknown = [w for w in content if w not in YES_WORDS]
        return True if len(unknown) <= 1 else None
    if not content and any(w in YES_WORDS for w in found):
        # "please", "go ahead"; a bare "danke" may decline an offer: no answer.
        return None if any(w in THANKS for w in found) else True
    return None


# Words of a yes that only one of the languages uses ("ok" and "klar?" aside).
_ENGLISH_YES = frozenset(
    """yes yess yeah yea yeh yep yup yas sure alright absolutely definitely certainly
    please pls plz""".split()
)
_GERMAN_YES = frozenset(
    """ja jaa jaaa jo joa jap jep jup japp klar gerne gern genau bitte
    einverstanden natuerlich passt""".split()
)


def yes_language(text: str) -> Optional[str]:
    """ "en" or "de" when the words of a plain yes are of one language only
    ("yes pls", "ja bitte"); None for "ok" or a mix."""
    found = set(words(text))
    english, german = found & _ENGLISH_YES, found & _GERMAN_YES
    if english and not german:
        return "en"
    if german and not english:
        return "de"
    return None


def read_ordinal(text: str, count: int, max_words: int = MAX_WORDS) -> Optional[int]:
    """1-based choice among ``count`` options ("the second", "Nr. 2", "die letzte");
    ``max_words``: how long a message may be and still be read as a choice."""
    folded = fold(text)
    if count <= 0 or not folded or len(folded.split()) > max_words:
        return None
    folded = _PERIOD.sub(" ", folded)  # "last month" is no choice
    # "2", "Nr. 2", "#2", "das 2.", "die 2 bitte"
    digit = re.fullmatch(
        r"(?:(?:das|die|der|den|the)\s+)?(?:(?:nr|no|nummer|number|option)\.?\s*)?"
        r"#?\s*(\d)\.?(?:\s+(?:bitte|please|pls|plz))?",
        folded.strip(),
    )
    if digit:
        number = int(digit.group(1))
        return number if 1 <= number <= count else None
    for number, pattern in ORDINALS.items():
        if re.search(rf"\b(?:{pattern})\b", folded):
            return number if number <= count else None
    if re.search(rf"\b(?:{_LAST})\b", folded):
        return count
    return None


def read_option(text: str, titles: Sequence[str]) -> Optional[int]:
    """1-based option whose title the reply repeats ("die Partner", "REAG/GARP")."""
    folded = fold(text)
    if not folded or len(folded.split()) > MAX_WORDS:
        return None
    hits = []
    reply_words = {w[:6] for w in folded.split() if len(w) > 3}
    for number, title in enumerate(titles, start=1):
        title_words = {w[:6] for w in fold(title).split() if len(w) > 3}
        if title_words & reply_words:
            hits.append(number)
    return hits[0] if len(hits) == 1 else None
