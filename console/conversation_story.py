"""A reviewed conversation as the steps of a story, a rule or a test story.

Each chosen turn becomes the intent staff confirmed or corrected, then what the
bot did: its actions, and the slots that steer the dialogue (``influence_
conversation`` in domain.yml) where they were set. A turn whose intent staff
corrected gets the answer the rules give that intent instead of the wrong one the
bot gave. A test story keeps what the user typed (masked as the page shows it,
with entity markup) so that ``rasa test`` reads it as the bot would; a pressed
button, or a follow-up the channel read in its conversation, is kept as the
intent it stood for (Rasa alone would not read "ja" as the channel did).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Set

import yaml

from console.conversation_review import MASKED, Conversation
from console.dialogue_files import DialogueError, DialogueFiles, Step
from console.edits import version

# Actions Rasa runs by itself in every turn, never written in stories.
UNWRITTEN = {"action_listen", "action_extract_slots", "action_session_start"}


def conversation_version(conversation: Conversation) -> str:
    """What a save form was made from: the turns as they were shown."""
    return version(
        [(t.number, t.timestamp, t.text, t.intent) for t in conversation.turns]
    )


def steering_slots(root: Path) -> Set[str]:
    """Slots that influence the conversation (the rest are never written)."""
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8")) or {}
    found = set()
    for name, slot in (domain.get("slots") or {}).items():
        if not isinstance(slot, dict):
            continue
        default = slot.get("type") != "any"
        if slot.get("influence_conversation", default):
            found.add(str(name))
    return found


def rule_answers(files: DialogueFiles) -> Dict[str, List[str]]:
    """intent → the actions a one-turn rule gives it (``intent``, then actions)."""
    found: Dict[str, List[str]] = {}
    for flow in files.flows("rules"):
        steps = flow.steps
        if (
            len(steps) >= 2
            and steps[0].kind == "intent"
            and not steps[0].values
            and all(step.kind == "action" for step in steps[1:])
            and "condition:" not in flow.source
            and "conversation_start:" not in flow.source
        ):
            found.setdefault(steps[0].name, [step.name for step in steps[1:]])
    return found


def conversation_steps(
    conversation: Conversation,
    chosen: Sequence[int],
    intents: Dict[int, str],
    kind: str,
    root: Path,
) -> List[Step]:
    """The steps for the turns ``chosen``, with ``intents`` as staff set them."""
    files = DialogueFiles(root)
    steering = steering_slots(root)
    answers = rule_answers(files)
    steps: List[Step] = []
    for number in chosen:
        if not 0 <= number < len(conversation.turns):
            raise DialogueError(f"There is no turn {number + 1}.")
        turn = conversation.turns[number]
        intent = (intents.get(number) or turn.intent or "").strip()
        if not intent:
            raise DialogueError(f"Turn {number + 1}: choose its intent.")
        corrected = intent != turn.intent
        typed = kind == "tests" and turn.marked and not turn.button
        if typed:
            steps.append(Step("intent", intent, text=str(turn.marked)))
        else:
            values = () if corrected else _entities(turn.entities)
            steps.append(Step("intent", intent, values=values))
        if corrected:
            if intent not in answers:
                raise DialogueError(
                    f"Turn {number + 1}: no rule answers {intent} alone, so the "
                    "console cannot tell what the bot should have done: save it "
                    "without this turn, or write the story on the stories page."
                )
            steps += [Step("action", action) for action in answers[intent]]
            continue
        for what, name, value in turn.dialogue:
            if what == "action" and name not in UNWRITTEN:
                steps.append(Step("action", name))
            elif what == "slot" and name in steering:
                steps.append(Step("slot", name, values=((name, value),)))
    if kind != "tests":
        for step in steps:
            if any(mark in str(v) for _, v in step.values for mark in MASKED):
                raise DialogueError(
                    "A step has masked personal data: save the turn as a test "
                    "story, or leave it out."
                )
    return steps


def _entities(entities: Sequence[tuple]) -> tuple:
    return tuple((str(name), value) for name, value in entities)
