"""The one way the console changes files that people also edit by hand (YAML, and
the Markdown table of intents): as text, at the places the YAML parser reports, so
every other byte of a file (comments, quoting, indentation, unicode, LF or CRLF
line ends) stays as it was.

- ``read``: a file's text with its line ends as they are;
- ``lines``, ``line_of``, ``column_of``: lines counted at "\\n" only, as the edits
  count them (PyYAML's marks also break lines at U+2028 and U+0085);
- ``replace_spans``: characters at the parser's positions (an answer's text);
- ``appended``, ``insert_after_line`` / ``last_leaf``, ``insert_lines``: text added
  at the end, after a node (domain.yml) or before a line (a table row);
- ``item_span``, ``value_lines``, ``item_lines``, ``replace_lines``: one item of a
  sequence (a story, a rule, an event) or one value of a mapping (a story's
  steps), found by its lines, replaced or taken out; ``literal_block``: a value
  written anew as ``key: |`` and its lines (an intent's examples);
- ``FileChange``: the files of one change, written atomically and all put back,
  byte for byte, when `make validate`'s rules (or any check after the writing)
  refuse it.

New text is given with "\\n" line ends; it gets the line ends of the file it goes
into.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import yaml

from console.edits import write_atomically
from ofr_tools import check_project
from ofr_tools.check_project import child, items, pairs


def read(path: Path) -> str:
    """The file's text, its CRLF line ends kept (``Path.read_text`` makes them LF)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


def _line_ends_of(source: str, text: str) -> str:
    """``text`` with the line ends ``source`` uses (that of its first line)."""
    first = source.find("\n")
    if first > 0 and source[first - 1] == "\r":
        return text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text


def lines(source: str) -> List[str]:
    """The lines of ``source``, each with its line end."""
    found = [line + "\n" for line in source.split("\n")]
    found[-1] = found[-1][:-1]
    return found if found[-1] else found[:-1]


def line_of(source: str, index: int) -> int:
    """The line (from 0) on which character ``index`` lies."""
    return source.count("\n", 0, index)


def column_of(source: str, index: int) -> int:
    return index - source.rfind("\n", 0, index) - 1


def replace_spans(source: str, spans: Iterable[Tuple[int, int, str]]) -> str:
    """``source`` with the characters [start, end) of each span replaced."""
    after = source
    previous = len(source)
    for start, end, text in sorted(spans, reverse=True):  # offsets stay right
        if end > previous:
            raise ValueError("The spans to replace overlap.")
        after = after[:start] + _line_ends_of(source, text) + after[end:]
        previous = start
    return after


def last_leaf(node: yaml.Node) -> int:
    """Where the last scalar inside ``node`` ends (a block's own end mark lies at
    the next key, after any comments between)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node.end_mark.index


def insert_after_line(source: str, index: int, text: str) -> str:
    """``text`` at the end of the line on which ``index`` lies (before its line end)."""
    end = source.find("\n", index)
    end = len(source) if end == -1 else end
    if end > index and source[end - 1] == "\r":
        end -= 1
    return source[:end] + _line_ends_of(source, text) + source[end:]


def appended(before: str, block: str) -> str:
    """``block`` after the last line of ``before`` (its trailing line ends dropped)."""
    body = before.rstrip("\r\n")
    return _line_ends_of(before, (body + "\n" if body else "") + block)


def item_indent(source: str, key: str, default: str = "  ") -> str:
    """How a file indents the items of its ``key:`` list, e.g. ``- rule:``."""
    found = re.search(rf"^( *)- {re.escape(key)}:", source, re.M)
    return found.group(1) if found else default


def item_lines(
    source: str, start_line: int, next_line: Optional[int], indent: int
) -> Tuple[int, int]:
    """The lines [first, end) of a node that starts on ``start_line`` and ends
    before ``next_line`` (the next item or key; None: the end of the file): blank
    lines and comments at ``indent`` or less that come last belong to what follows."""
    text_lines = lines(source)
    end = len(text_lines) if next_line is None else next_line
    while end > start_line + 1:
        text = text_lines[end - 1]
        stripped = text.strip()
        if stripped and not (
            stripped.startswith("#") and len(text) - len(text.lstrip()) <= indent
        ):
            break
        end -= 1
    return start_line, end


def item_span(
    source: str, document: Optional[yaml.Node], key: str, number: int
) -> Tuple[int, int]:
    """The lines [first, end) of item ``number`` of the top-level ``key:`` list."""
    sequence = items(child(document, key))
    node = sequence[number]
    start = node.start_mark.index
    if number + 1 < len(sequence):
        following: Optional[int] = line_of(
            source, sequence[number + 1].start_mark.index
        )
    else:
        after = [
            k.start_mark.index for k, _ in pairs(document) if k.start_mark.index > start
        ]
        following = line_of(source, min(after)) if after else None
    return item_lines(
        source, line_of(source, start), following, column_of(source, start) - 2
    )


def _pair(mapping: yaml.Node, key: str) -> Tuple[yaml.Node, yaml.Node]:
    found = next(((k, v) for k, v in pairs(mapping) if k.value == key), None)
    if found is None:
        raise KeyError(key)
    return found


def value_lines(
    source: str, mapping: yaml.Node, key: str, end_line: Optional[int]
) -> Tuple[int, int]:
    """The lines [first, end) of ``key``'s value in ``mapping``, which ends before
    ``end_line`` at the latest: from the line the value starts on (a block
    sequence's first item, a block scalar's ``|``) to the mapping's next key, less
    the blank lines and comments that belong to what follows."""
    name, value = _pair(mapping, key)
    start = value.start_mark.index
    later = [
        line_of(source, k.start_mark.index)
        for k, _ in pairs(mapping)
        if k.start_mark.index > start
    ]
    ends = later + ([] if end_line is None else [end_line])
    # Comments at a sequence's dashes, or at the key of a scalar, follow it.
    indent_at = start if isinstance(value, yaml.SequenceNode) else name.start_mark.index
    return item_lines(
        source,
        line_of(source, start),
        min(ends) if ends else None,
        column_of(source, indent_at),
    )


def literal_block(
    source: str,
    mapping: yaml.Node,
    key: str,
    end_line: Optional[int],
    content: List[str],
) -> str:
    """``source`` with ``key``'s value in ``mapping`` written as a literal block
    (``key: |`` and the lines ``content``), indented as its lines were (or two more
    than the key when it had none), as ruamel.yaml's round trip wrote it."""
    name, value = _pair(mapping, key)
    first, end = value_lines(source, mapping, key, end_line)
    text_lines = lines(source)
    indent = " " * (column_of(source, name.start_mark.index) + 2)
    for line in text_lines[first + 1 : end]:
        if line.strip():
            indent = line[: len(line) - len(line.lstrip(" "))]
            break
    key_line = text_lines[first]
    start = column_of(source, value.start_mark.index)
    comment = re.match(r"[|>][-+0-9]*([ \t]+#.*?)?\r?\n?$", key_line[start:])
    text = key_line[:start] + "|" + (comment and comment.group(1) or "") + "\n"
    text += "".join(f"{indent}{line}\n" for line in content)
    return replace_lines(source, first, end, text)


def replace_lines(source: str, first: int, end: int, text: str) -> str:
    """``source`` with its lines [first, end) replaced by ``text`` (a line end is
    added to the last line only when ``text`` comes after it)."""
    text_lines = lines(source)
    if text and first >= len(text_lines) and text_lines:
        if not text_lines[-1].endswith("\n"):
            text_lines[-1] += _line_ends_of(source, "\n")
    return (
        "".join(text_lines[:first])
        + _line_ends_of(source, text)
        + "".join(text_lines[end:])
    )


def insert_lines(source: str, before_line: int, text: str) -> str:
    """``text`` (whole lines) before line ``before_line`` (len(lines): at the end)."""
    return replace_lines(source, before_line, before_line, text)


class FileChange:
    """The files one change writes; ``put_back`` restores each as it was (a file
    that did not exist is removed again), and so does any error inside
    ``with FileChange() as change:``, a refused check included."""

    def __init__(self) -> None:
        self.originals: Dict[Path, Optional[str]] = {}

    def __enter__(self) -> FileChange:
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if kind is not None:
            self.put_back()

    def check(self, root: Path, refused: Callable[[str], Exception]) -> None:
        """`make validate`'s rules on the changed project: ``refused`` with the
        first three problems, if any."""
        problems, _ = check_project.run(root)
        if problems:
            raise refused(" ".join(str(p) for p in problems[:3]))

    def before(self, path: Path) -> str:
        """The file's text now ("" if it does not exist), remembered once."""
        text = read(path) if path.exists() else None
        self.originals.setdefault(path, text)
        return text or ""

    def write(self, path: Path, text: str) -> None:
        self.before(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text)

    @property
    def paths(self) -> List[Path]:
        return sorted(self.originals)

    def put_back(self) -> None:
        for path, text in self.originals.items():
            if text is None:
                path.unlink(missing_ok=True)
            else:
                write_atomically(path, text)
