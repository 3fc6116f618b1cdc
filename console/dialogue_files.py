"""Stories and rules (``data/stories``, ``data/rules``) and test stories
(``tests/stories``), read step by step and changed as text (console/yaml_text.py):
a new one is appended to its file, a changed one gets only its ``steps:`` lines
rewritten, a deleted one loses only its own lines; every other byte of the file
stays. After the writing, ``make validate``'s rules (ofr_tools/check_project.py)
and ``rasa data validate`` with its story-conflict check (console/dialogue_check.py)
must pass, or every file is put back as it was.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import yaml

from console import dialogue_check
from console.edits import StaleEdit, version
from console.yaml_text import (
    FileChange,
    appended,
    column_of,
    item_indent,
    item_span,
    lines,
    replace_lines,
    value_lines,
)
from ofr_tools import check_project
from ofr_tools.check_project import child, items, scalar

# area → (folder, the file's list key, an item's key, what staff call it)
AREAS: Dict[str, Tuple[str, str, str, str]] = {
    "stories": ("data/stories", "stories", "story", "training story"),
    "rules": ("data/rules", "rules", "rule", "rule"),
    "tests": ("tests/stories", "stories", "story", "test story"),
}
FILE_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}\.yml")
STEP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,80}")
MAX_NAME = 120
MAX_STEPS = 60
MAX_TEXT = 2000
KINDS = ("intent", "action", "slot")


class DialogueError(ValueError):
    """Why a story or rule was not saved (one or more sentences)."""


@dataclass(frozen=True)
class Step:
    """One step: the user's intent (with entities, or, in a test story, the words
    typed), an action or answer of the bot, or a slot set; ``other`` is anything
    else (``or``, ``checkpoint``, forms), shown but not changed here."""

    kind: str  # intent, action, slot, other
    name: str
    text: str = ""  # test stories: what the user typed (entity markup allowed)
    values: Tuple[Tuple[str, Any], ...] = ()  # entities; a slot's (name, value)
    raw: str = ""  # other: as written

    @property
    def details(self) -> str:
        """Entities or a slot's value as the form shows them: ``city: Hamburg``."""
        if self.kind == "slot":
            return _value_text(self.values[0][1]) if self.values else ""
        return "; ".join(
            f"{name}: {_value_text(value)}" if value is not None else name
            for name, value in self.values
        )


@dataclass(frozen=True)
class Flow:
    """A story or rule, where it is, and its text as written (its version)."""

    area: str
    file: str
    number: int  # its place in the file, from 0
    name: str
    steps: Tuple[Step, ...]
    source: str
    editable: bool
    first_line: int  # 1-based, for people

    @property
    def version(self) -> str:
        return version(self.source)

    @property
    def what(self) -> str:
        return AREAS[self.area][3]


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _step(data: Any, raw: str) -> List[Step]:
    if not isinstance(data, dict):
        return [Step("other", "", raw=raw)]
    keys = set(data)
    if "intent" in data and keys <= {"intent", "user", "entities"}:
        values: List[Tuple[str, Any]] = []
        for entity in data.get("entities") or []:
            if isinstance(entity, dict):
                values += [(str(k), v) for k, v in entity.items()]
            else:
                values.append((str(entity), None))
        text = str(data.get("user") or "").strip()
        return [Step("intent", str(data["intent"]), text, tuple(values))]
    if keys == {"action"}:
        return [Step("action", str(data["action"]))]
    if keys == {"slot_was_set"} and isinstance(data["slot_was_set"], list):
        found = []
        for slot in data["slot_was_set"]:
            if isinstance(slot, dict) and len(slot) == 1:
                (name, value), *_ = slot.items()
                found.append(Step("slot", str(name), values=((str(name), value),)))
            else:
                return [Step("other", "", raw=raw)]
        return found
    return [Step("other", "", raw=raw)]


class DialogueFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    # ------------------------------------------------------------ reading

    def path(self, area: str, file: str) -> Path:
        if area not in AREAS or not FILE_NAME.fullmatch(file):
            raise DialogueError(f"{area}/{file} is no story or rule file.")
        return self.root / AREAS[area][0] / file

    def files(self, area: str) -> List[str]:
        folder = self.root / AREAS[area][0]
        return sorted(
            p.name for p in folder.glob("*.yml") if FILE_NAME.fullmatch(p.name)
        )

    def flows(self, area: str, file: Optional[str] = None) -> List[Flow]:
        found: List[Flow] = []
        for name in [file] if file else self.files(area):
            path = self.path(area, name)
            if path.is_file():
                found += self._read(area, name, path.read_text(encoding="utf-8"))
        return found

    def flow(self, area: str, file: str, number: int) -> Optional[Flow]:
        flows = self.flows(area, file) if self.path(area, file).is_file() else []
        return flows[number] if 0 <= number < len(flows) else None

    def names(self, area: str) -> Set[str]:
        return {flow.name for flow in self.flows(area)}

    def _read(self, area: str, file: str, source: str) -> List[Flow]:
        _, key, item_key, _ = AREAS[area]
        try:
            document = yaml.compose(source)
            data = yaml.safe_load(source) or {}
        except yaml.YAMLError as error:
            raise DialogueError(f"{file} does not read as YAML: {error}") from error
        found = []
        entries = data.get(key) or [] if isinstance(data, dict) else []
        for number, (node, entry) in enumerate(
            zip(items(child(document, key)), entries, strict=False)
        ):
            first, end = item_span(source, document, key, number)
            text = "".join(lines(source)[first:end])
            steps_node = child(node, "steps")
            steps: List[Step] = []
            for step_node, step in zip(
                items(steps_node), entry.get("steps") or [], strict=False
            ):
                raw = source[step_node.start_mark.index : step_node.end_mark.index]
                steps += _step(step, raw)
            editable = (
                isinstance(steps_node, yaml.SequenceNode)
                and not steps_node.flow_style
                and bool(steps)
                and all(step.kind != "other" for step in steps)
            )
            found.append(
                Flow(
                    area,
                    file,
                    number,
                    str(scalar(child(node, item_key)) or f"({item_key} {number + 1})"),
                    tuple(steps),
                    text,
                    editable,
                    first + 1,
                )
            )
        return found

    # ------------------------------------------------------------ changing

    def add(self, area: str, file: str, name: str, steps: Sequence[Step]) -> List[Path]:
        """Append a new story or rule to ``file`` (made if it is missing)."""
        _, key, item_key, what = AREAS[area]
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME:
            raise DialogueError(
                f"Give the {what} a name of at most {MAX_NAME} characters."
            )
        every = {
            flow.name
            for a in AREAS
            if AREAS[a][0] == AREAS[area][0]
            for flow in self.flows(a)
        }
        if name in every:
            raise DialogueError(f"There is a {what} named “{name}” already.")
        self._check_steps(area, steps)
        path = self.path(area, file)

        def edit(change: FileChange) -> None:
            if not path.exists():
                change.write(path, f'version: "3.1"\n\n{key}:\n')
            before = change.before(path)
            indent = item_indent(before, item_key)
            block = (
                f"\n{indent}- {item_key}: {_scalar(name)}\n{indent}  steps:\n"
                + render_steps(steps, indent + "    ")
            )
            change.write(path, appended(before, block))

        return self._change(edit)

    def replace(
        self, area: str, file: str, number: int, seen: str, steps: Sequence[Step]
    ) -> List[Path]:
        """Give a story or rule new steps; ``seen`` is the version its form showed."""
        self._check_steps(area, steps)
        flow = self._current(area, file, number, seen, steps)
        if not flow.editable:
            raise DialogueError(
                f"This {flow.what} has steps the console does not change (or, "
                "checkpoint, forms): change it in the file."
            )
        path = self.path(area, file)

        def edit(change: FileChange) -> None:
            source = change.before(path)
            document = yaml.compose(source)
            key = AREAS[area][1]
            node = items(child(document, key))[number]
            first_step = items(child(node, "steps"))[0]
            _, item_end = item_span(source, document, key, number)
            first, end = value_lines(source, node, "steps", item_end)
            column = column_of(source, first_step.start_mark.index) - 2
            text = render_steps(steps, " " * column)
            change.write(path, replace_lines(source, first, end, text))

        return self._change(edit)

    def delete(self, area: str, file: str, number: int, seen: str) -> List[Path]:
        flow = self._current(area, file, number, seen, None)
        path = self.path(area, file)

        def edit(change: FileChange) -> None:
            source = change.before(path)
            document = yaml.compose(source)
            first, end = item_span(source, document, AREAS[area][1], number)
            text_lines = lines(source)
            # One blank line between items goes with it.
            if end < len(text_lines) and not text_lines[end].strip():
                end += 1
            elif first > 0 and not text_lines[first - 1].strip():
                first -= 1
            after = replace_lines(source, first, end, "")
            if not items(child(yaml.compose(after), AREAS[area][1])):
                raise DialogueError(
                    f"{flow.file} would have no {AREAS[area][2]} left: delete the "
                    "file in the project instead."
                )
            change.write(path, after)

        return self._change(edit)

    def _current(
        self, area: str, file: str, number: int, seen: str, yours: Any
    ) -> Flow:
        flow = self.flow(area, file, number)
        if flow is None or flow.version != seen:
            raise StaleEdit(
                f"{AREAS[area][0]}/{file}",
                flow.source if flow else "(no longer there)",
                yours,
            )
        return flow

    def _check_steps(self, area: str, steps: Sequence[Step]) -> None:
        if not steps:
            raise DialogueError("A story or rule needs at least one step.")
        if len(steps) > MAX_STEPS:
            raise DialogueError(f"Keep it under {MAX_STEPS} steps.")
        problems: List[check_project.Problem] = []
        domain = check_project.load_domain(self.root, problems)
        if domain is None:
            raise DialogueError("domain.yml does not read: " + str(problems[:1]))
        known = {
            "intent": set(domain.intents) | set(check_project.DEFAULT_INTENTS),
            "action": set(domain.responses)
            | domain.actions
            | set(check_project.DEFAULT_ACTION_NAMES),
            "slot": domain.slots,
        }
        for number, step in enumerate(steps, start=1):
            if step.kind not in KINDS:
                raise DialogueError(f"Step {number} is of a kind the console keeps.")
            if step.name not in known[step.kind]:
                raise DialogueError(
                    f"Step {number}: “{step.name}” is no {step.kind} of the domain: "
                    "choose one from the list."
                )
            if step.text and area != "tests":
                raise DialogueError(
                    "Only test stories keep what the user typed; write the intent."
                )
            if len(step.text) > MAX_TEXT:
                raise DialogueError(f"Step {number}: the text is too long.")
            for entity, _ in step.values:
                if step.kind == "intent" and entity not in domain.entities:
                    raise DialogueError(
                        f"Step {number}: “{entity}” is no entity of the domain."
                    )
        if steps[0].kind != "intent" and area != "rules":
            raise DialogueError("A story starts with what the user asked (an intent).")

    def _change(self, edit: Callable[[FileChange], None]) -> List[Path]:
        with FileChange() as change:
            edit(change)
            change.check(self.root, DialogueError)
            refused = dialogue_check.problems(self.root)
            if refused:
                raise DialogueError(
                    "rasa data validate refused it: " + " ".join(refused[:3])
                )
        return change.paths


# ---------------------------------------------------------------- writing


def _scalar(value: Any) -> str:
    """A value as one YAML scalar on one line: plain when it reads back the same
    (as people write them: ``city: Hamburg``), else JSON (``date: "2019"``)."""
    if isinstance(value, str) and "#" not in value and "\n" not in value:
        try:
            plain = yaml.safe_load(f"k: {value}")
        except yaml.YAMLError:
            plain = None
        if isinstance(plain, dict) and plain.get("k") == value:
            return value
    return json.dumps(value, ensure_ascii=False)


def render_steps(steps: Sequence[Step], indent: str) -> str:
    """The steps as YAML lines, each ``- `` at ``indent``."""
    out: List[str] = []
    for step in steps:
        if step.kind == "intent" and step.text:
            out.append(f"{indent}- user: |\n")
            out += [f"{indent}    {line}\n" for line in step.text.splitlines()]
            out.append(f"{indent}  intent: {step.name}\n")
        elif step.kind == "intent":
            out.append(f"{indent}- intent: {step.name}\n")
            if step.values:
                out.append(f"{indent}  entities:\n")
                for entity, value in step.values:
                    shown = "" if value is None else ": " + _scalar(value)
                    out.append(f"{indent}    - {entity}{shown}\n")
        elif step.kind == "action":
            out.append(f"{indent}- action: {step.name}\n")
        elif step.kind == "slot":
            value = step.values[0][1] if step.values else None
            out.append(f"{indent}- slot_was_set:\n")
            out.append(f"{indent}    - {step.name}: {_scalar(value)}\n")
    return "".join(out)


def step_from_form(kind: str, name: str, details: str, text: str) -> Optional[Step]:
    """A step from one row of the editor's form (None: an empty row)."""
    kind, name, text = kind.strip(), name.strip(), text.strip()
    if kind == "remove" or not (name or text):
        return None
    if kind not in KINDS:
        raise DialogueError("Choose what each step is: intent, answer or action, slot.")
    if not STEP_NAME.fullmatch(name):
        raise DialogueError(
            f"“{name}” is no name of the domain: choose one from the list."
        )
    if kind == "slot":
        try:
            value = yaml.safe_load(details) if details.strip() else None
        except yaml.YAMLError:
            value = details.strip()
        if isinstance(value, dict | list):
            raise DialogueError("A slot's value is one word, number, true or false.")
        return Step("slot", name, values=((name, value),))
    values: List[Tuple[str, Any]] = []
    if kind == "intent" and details.strip():
        for part in details.split(";"):
            entity, _, value = part.partition(":")
            entity = entity.strip()
            if not STEP_NAME.fullmatch(entity):
                raise DialogueError(
                    f"Write entities as “city: Hamburg; format: online” (not “{part.strip()}”)."
                )
            values.append((entity, value.strip() if value.strip() else None))
    if kind == "action" and text:
        raise DialogueError("Only the user's steps have typed words.")
    return Step(kind, name, text, tuple(values))
