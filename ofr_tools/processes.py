"""Processes as Linux's /proc shows them: children, process groups, command lines
and memory. For the tests and the benchmarks; nothing here needs Rasa.

Each function reads /proc afresh and skips processes that end while it reads:
a process that is gone is simply not there (or "" / None for its details).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

PROC = Path("/proc")


def _stats() -> Iterator[Tuple[int, List[str]]]:
    """Each live process id with the fields of its /proc/<pid>/stat after the
    command name: state, parent id, process group, ..."""
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) >= 3:
            yield int(stat.parent.name), fields


def all_pids() -> List[int]:
    """The ids of all processes."""
    return [pid for pid, _ in _stats()]


def children(parent: int) -> List[int]:
    """The direct children of ``parent``."""
    return [pid for pid, fields in _stats() if int(fields[1]) == parent]


def descendants(parent: int) -> List[int]:
    """The children of ``parent``, their children, and so on."""
    tree: Dict[int, List[int]] = {}
    for pid, fields in _stats():
        tree.setdefault(int(fields[1]), []).append(pid)
    found, todo = [], [parent]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def group_members(group: int) -> List[int]:
    """The processes of a process group, zombies left out."""
    return [
        pid for pid, fields in _stats() if int(fields[2]) == group and fields[0] != "Z"
    ]


def command_line(pid: int) -> str:
    """A process's command line, its arguments joined by spaces; "" when it is gone."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _megabytes(path: Path, key: str) -> Optional[float]:
    """The ``key: <n> kB`` line of a /proc status or meminfo file, in MB."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def resident_mb(pid: int) -> Optional[float]:
    """Resident memory of one process (VmRSS) in MB; None when it is gone."""
    return _megabytes(PROC / str(pid) / "status", "VmRSS")


def total_memory_mb() -> Optional[float]:
    """The machine's memory (MemTotal) in MB; None where /proc cannot tell."""
    return _megabytes(PROC / "meminfo", "MemTotal")
