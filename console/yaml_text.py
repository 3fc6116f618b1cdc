"""The one way the console changes YAML files that people also edit by hand: as
text, at the places the YAML parser reports, so every other byte of the file (its
comments, quoting and indentation) stays as it was.

- ``appended``: a block added at the end of a file (a new question's examples and
  rule, a story or rule saved from a conversation);
- ``insert_after_line`` / ``last_leaf``: text added after a node (domain.yml);
- ``item_lines`` / ``replace_lines``: one item of a sequence (a story, a rule),
  found by its lines, replaced or taken out;
- ``FileChange``: the files of one change, written atomically and all put back,
  byte for byte, when a check after the writing fails.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from console.edits import write_atomically


def last_leaf(node: yaml.Node) -> int:
    """Where the last scalar inside ``node`` ends (a block's own end mark lies at
    the next key, after any comments between)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    return node.end_mark.index


def insert_after_line(source: str, index: int, text: str) -> str:
    """``text`` at the end of the line on which ``index`` lies (before its newline)."""
    end = source.find("\n", index)
    end = len(source) if end == -1 else end
    return source[:end] + text + source[end:]


def appended(before: str, block: str) -> str:
    """``block`` after the last line of ``before`` (its trailing newlines dropped)."""
    body = before.rstrip("\n")
    return (body + "\n" if body else "") + block


def item_indent(source: str, key: str, default: str = "  ") -> str:
    """How a file indents the items of its ``key:`` list, e.g. ``- rule:``."""
    found = re.search(rf"^( *)- {re.escape(key)}:", source, re.M)
    return found.group(1) if found else default


def item_lines(
    source: str, start_line: int, next_line: Optional[int], indent: int
) -> Tuple[int, int]:
    """The lines [first, end) of a sequence item that starts on ``start_line``
    and ends before ``next_line`` (the next item or key; None: the end of the
    file): blank lines and comments at the item's indentation or less that come
    last belong to what follows."""
    lines = source.splitlines(keepends=True)
    end = len(lines) if next_line is None else next_line
    while end > start_line + 1:
        text = lines[end - 1]
        stripped = text.strip()
        if stripped and not (
            stripped.startswith("#") and len(text) - len(text.lstrip()) <= indent
        ):
            break
        end -= 1
    return start_line, end


def replace_lines(source: str, first: int, end: int, text: str) -> str:
    """``source`` with its lines [first, end) replaced by ``text``."""
    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(lines[:first]) + text + "".join(lines[end:])


class FileChange:
    """The files one change writes; ``put_back`` restores each as it was (a file
    that did not exist is removed again)."""

    def __init__(self) -> None:
        self.originals: Dict[Path, Optional[str]] = {}

    def before(self, path: Path) -> str:
        """The file's text now ("" if it does not exist), remembered once."""
        text = path.read_text(encoding="utf-8") if path.exists() else None
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
