"""README.md and docs/*.md name only what exists: make targets, settings, files,
modules, ofr-* commands, links and README sections.

Docs go stale when code moves (README once said `make run` starts Rasa with
`--cors "*"`, long after OFR_CORS_ORIGINS replaced it). Each test prints one line per
problem, ``file:line: what``, so the fix is a search away. docs/configuration.md must
also list every setting the code and the start scripts read.
"""

from __future__ import annotations

import glob
import itertools
import os
import re
from pathlib import Path
from typing import Iterator, List, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = ROOT / "docs" / "configuration.md"

# Made at run time, never in git: a path under these is not checked.
GENERATED = (
    "var/",
    "models/",
    "reports/",
    "results/",
    "tests/artifacts/",
    ".venv/",
    "node_modules/",
    ".env",
)
# Files outside the repository that the docs name on purpose: the content sources
# (../shared/CONTENT.md) that answers may state facts from.
OUTSIDE = {"CONTENT.md"}
PACKAGES = ("bot", "actions", "ofr", "ofr_tools", "console")
# Settings of our own, of Rasa and of the start scripts: a name with one of these
# prefixes in the docs must be read somewhere.
SETTING = re.compile(
    r"\b((?:OFR|RASA|TELEGRAM|ACTION|CLUSTER|SANIC)_[A-Z0-9_]*)(\*|…)?"
)
SHELL_OWN = {"BASH_SOURCE", "SECONDS", "HOME", "PATH", "PWD", "UID", "IFS"}
FILE_SUFFIX = re.compile(
    r"\.(py|ya?ml|md|txt|json|toml|sh|js|css|html|cfg|template|gz|db|log|png|svg|ics)$"
)
INLINE_CODE = re.compile(r"`([^`]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")
README_SECTION = re.compile(r'README "([^"]+)"')
MAKE_INLINE = re.compile(r"(?:^|[\s;&(])make\s+([a-z][\w-]*)")
MAKE_COMMAND = re.compile(r"^\s*(?:[A-Z_]+=\S*\s+)*make\s+([a-z][\w-]*)")
MODULE = re.compile(rf"^(?:{'|'.join(PACKAGES)})(?:\.(?:[A-Za-z_]\w*|<[^>]+>))+$")
COMMAND = re.compile(r"(?:^|/)(ofr-[a-z-]+)$")


def doc_files() -> List[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _code_files(folders: Tuple[str, ...], suffix: str) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((ROOT / folder).rglob(f"*{suffix}"))


# --------------------------------------------------------------- what the code has


def make_targets() -> Set[str]:
    found = re.findall(r"^([a-z][\w-]*)\s*:(?!=)", _text(ROOT / "Makefile"), re.M)
    return set(found)


def console_commands() -> Set[str]:
    block = _text(ROOT / "pyproject.toml").split("[project.scripts]", 1)[1]
    block = block.split("\n[", 1)[0]
    return set(re.findall(r"^(ofr-[a-z-]+)\s*=", block, re.M))


def settings_read(packages: Tuple[str, ...] = PACKAGES) -> Set[str]:
    """Every environment variable the code and the start scripts read."""
    names: Set[str] = set()
    for path in _code_files(packages, ".py"):
        source = _text(path)
        names |= set(
            re.findall(
                r"""(?:os\.environ(?:\.get|\.pop|\.setdefault)?\(|os\.environ\[|getenv\(|"""
                r"""env\.(?:text|optional|number)\()\s*["']([A-Z][A-Z0-9_]*)["']""",
                source,
            )
        )
        # Names kept in constants (ofr_tools/cluster.py, ofr/process_environment.py).
        names |= set(
            re.findall(r"""["']((?:OFR|RASA|TELEGRAM)_[A-Z0-9_]+)["']""", source)
        )
    for path in sorted((ROOT / "scripts").glob("*.sh")):
        names |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", _text(path)))
    for name in ("endpoints.yml", "endpoints.cluster.yml", "credentials.yml"):
        lines = [line.split("#", 1)[0] for line in _text(ROOT / name).splitlines()]
        names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", "\n".join(lines)))
    makefile = _text(ROOT / "Makefile")
    names |= set(re.findall(r"^(?:export\s+)?([A-Z][A-Z0-9_]*)\s*\?=", makefile, re.M))
    return names - SHELL_OWN


def known_settings() -> Set[str]:
    """What a doc may name: the settings read, also by bench/ and the Makefile."""
    makefile = _text(ROOT / "Makefile")
    return (
        settings_read(PACKAGES + ("bench",))
        | set(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", makefile))
        | set(re.findall(r"^export\s+([A-Z][A-Z0-9_]*)", makefile, re.M))
        # What CI sets for the tests (OFR_TEST_SERVICES, read by tests/stores.py).
        | set(re.findall(r"\b(OFR_[A-Z0-9_]+)=", _text(ROOT / ".ci" / "run")))
    )


def readme_headings() -> List[str]:
    return [
        h.lower() for h in re.findall(r"^#+\s+(.+)$", _text(ROOT / "README.md"), re.M)
    ]


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> Set[str]:
    return {_slug(h) for h in re.findall(r"^#+\s+(.+)$", _text(path), re.M)}


# --------------------------------------------------------------- reading a doc


def split_fences(text: str) -> Tuple[str, List[Tuple[int, str]]]:
    """The text with fenced code blocks blanked (line numbers kept), and the fenced
    lines with their numbers."""
    prose: List[str] = []
    fenced: List[Tuple[int, str]] = []
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            inside = not inside
            prose.append("")
        elif inside:
            fenced.append((number, line))
            prose.append("")
        else:
            prose.append(line)
    return "\n".join(prose), fenced


def code_spans(prose: str) -> Iterator[Tuple[int, str]]:
    """Inline code with the line it starts on (a span may wrap onto the next line)."""
    for match in INLINE_CODE.finditer(prose):
        yield prose.count("\n", 0, match.start()) + 1, match.group(1)


def _generated(path: str) -> bool:
    return any(path == g.rstrip("/") or path.startswith(g) for g in GENERATED)


def _top_level() -> Set[str]:
    return {entry.name for entry in ROOT.iterdir()}


def _basenames() -> Set[str]:
    names: Set[str] = set()
    skip = {"node_modules", "models", "var", "reports", "results", "artifacts"}
    for _folder, dirs, files in os.walk(ROOT):
        # Caches and the virtualenv hold files of other projects; .ci is ours.
        dirs[:] = [
            d for d in dirs if d not in skip and (d == ".ci" or not d.startswith("."))
        ]
        names.update(files)
    return names


def _exists(path: str) -> bool:
    """``path`` exists; ``<name>``, ``…`` and ``*`` stand for any name, and
    ``en|de`` for either."""
    pattern = re.sub(r"<[^>]+>|…|\.\.\.", "*", path)
    segments = [segment.split("|") for segment in pattern.split("/")]
    for choice in itertools.product(*segments):
        if glob.glob(str(ROOT.joinpath(*choice))):
            return True
    return False


def path_problem(token: str, top: Set[str], basenames: Set[str]) -> str:
    """Why ``token`` (a word of inline code) names no file, or "" when it does or is
    no path."""
    token = token.strip("()[]{},;:\"'").split("::")[0]
    if not token or token.startswith(("/", "http", "$", "~", "-")) or "=" in token:
        return ""
    if "/" in token:
        first = token.split("/", 1)[0]
        if _generated(token) or first not in top:
            return ""
        return "" if _exists(token) else f"`{token}` does not exist"
    if FILE_SUFFIX.search(token) and re.fullmatch(r"[\w-][\w.<>*-]*", token):
        if _generated(token) or (ROOT / token).exists() or token in basenames | OUTSIDE:
            return ""
        if "<" in token or "*" in token:
            return ""
        return f"`{token}` is no file of the project"
    return ""


def module_problem(token: str) -> str:
    """Why a dotted name like ``bot.storage.eraser`` or
    ``bot.channels.retention.RetentionChannel`` names no module (and attribute)."""
    token = token.strip("()[]{},;:\"'")
    if not MODULE.match(token) or FILE_SUFFIX.search(token):
        return ""
    parts = token.split(".")
    for end in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:end])
        source = base.with_suffix(".py")
        if (base / "__init__.py").exists():
            source = base / "__init__.py"
        if not source.exists():
            continue
        rest = parts[end:]
        if len(rest) > 2:
            break
        if rest and not rest[0].startswith("<"):
            if not re.search(rf"\b{re.escape(rest[0])}\b", _text(source)):
                return f"`{token}`: {source.relative_to(ROOT)} has no {rest[0]}"
        return ""
    return f"`{token}` is no module of the project"


def problems_in(path: Path, text: str) -> List[str]:
    """Every stale name in one doc, as ``file:line: what``."""
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    targets, commands = make_targets(), console_commands()
    settings, headings = known_settings(), readme_headings()
    top, basenames = _top_level(), _basenames()
    found: List[str] = []
    prose, fenced = split_fences(text)

    def report(line: int, what: str) -> None:
        found.append(f"{name}:{line}: {what}")

    for line, span in code_spans(prose):
        for target in MAKE_INLINE.findall(span):
            if target not in targets:
                report(line, f"`make {target}`: the Makefile has no target {target}")
        for word in span.split():
            problem = path_problem(word, top, basenames) or module_problem(word)
            if problem:
                report(line, problem)
            command = COMMAND.search(word.strip("`,;:()"))
            if command and command.group(1) not in commands:
                report(line, f"`{command.group(1)}` is no command in pyproject.toml")
    for line, code in fenced:
        match = MAKE_COMMAND.match(code)
        if match and match.group(1) not in targets:
            report(
                line,
                f"`make {match.group(1)}`: the Makefile has no target {match.group(1)}",
            )
    for number, line_text in enumerate(text.splitlines(), 1):
        for setting, wildcard in SETTING.findall(line_text):
            if setting.endswith("_") or wildcard:
                if not any(known.startswith(setting) for known in settings):
                    report(number, f"no setting starts with {setting}")
            elif setting not in settings:
                report(number, f"{setting} is read nowhere in the code or the scripts")
        for section in README_SECTION.findall(line_text):
            if not any(h.startswith(section.lower()) for h in headings):
                report(number, f'README has no section "{section}"')
    # Links outside inline code (`[Hamburg](city)` is an NLU annotation).
    outside_code = INLINE_CODE.sub(lambda m: "\n" * m.group(0).count("\n"), prose)
    for number, line_text in enumerate(outside_code.splitlines(), 1):
        for target in (link or image for link, image in LINK.findall(line_text)):
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                report(number, f"link to {target}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                report(number, f"link to {target}: {linked.name} has no such heading")
    return found


# --------------------------------------------------------------- the tests


def test_readme_and_docs_name_only_what_exists():
    problems = [p for path in doc_files() for p in problems_in(path, _text(path))]
    assert not problems, "Stale names in the docs:\n" + "\n".join(problems)


def test_configuration_lists_every_setting_the_code_reads():
    listed = set(re.findall(r"\b[A-Z][A-Z0-9_]*\b", _text(CONFIGURATION)))
    missing = sorted(settings_read() - listed)
    assert not missing, (
        "docs/configuration.md does not list these settings the code or the scripts "
        "read: " + ", ".join(missing)
    )


def test_readme_stays_short():
    lines = _text(ROOT / "README.md").count("\n")
    assert lines <= 200, f"README.md has {lines} lines: move details into docs/"


def test_the_check_finds_each_kind_of_stale_name():
    # Without these, a check that never reports anything would pass.
    planted = (
        "Run `make no-such-target`, set `OFR_NO_SUCH_SETTING`, edit\n"
        "`bot/no_such_module.py`, use `bot.storage.no_such` and\n"
        "`bot.storage.eraser.NoSuchClass`, run `.venv/bin/ofr-no-such`,\n"
        "read [this](no-such.md) and [that](architecture.md#no-such-heading),\n"
        '<img src="images/no-such.png" alt="">\n'
        'see README "No such section".\n'
        "```sh\nmake no-such-either\n```\n"
    )
    found = "\n".join(problems_in(ROOT / "docs" / "planted.md", planted))
    for expected in (
        "docs/planted.md:1: `make no-such-target`",
        "docs/planted.md:1: OFR_NO_SUCH_SETTING is read nowhere",
        "docs/planted.md:2: `bot/no_such_module.py` does not exist",
        "docs/planted.md:2: `bot.storage.no_such`: bot/storage/__init__.py has no no_such",
        "docs/planted.md:3: `bot.storage.eraser.NoSuchClass`: bot/storage/eraser.py has no",
        "docs/planted.md:3: `ofr-no-such` is no command",
        "docs/planted.md:4: link to no-such.md: no such file",
        "docs/planted.md:4: link to architecture.md#no-such-heading",
        "docs/planted.md:5: link to images/no-such.png: no such file",
        'docs/planted.md:6: README has no section "No such section"',
        "docs/planted.md:8: `make no-such-either`",
    ):
        assert expected in found, f"not reported: {expected}\n{found}"


def test_the_check_accepts_real_and_generated_names():
    real = (
        "`make run`, `OFR_DB_*`, `data/nlu/en/<topic>.yml`, `var/tracker.db`,\n"
        "`bot.storage.tracker_store.<name>`, `.venv/bin/ofr-check-settings`,\n"
        "[staff](staff.md#getting-started), `domain.yml`, `ofr-chat.js`\n"
    )
    assert problems_in(ROOT / "docs" / "real.md", real) == []
