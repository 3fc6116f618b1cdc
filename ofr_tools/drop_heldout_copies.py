"""Remove training examples that copy or nearly copy a held-out test example.

    .venv/bin/python ofr_tools/drop_heldout_copies.py [--dry-run]

Keeps tests/nlu honest after staff or helpers add training data: the held-out sets
measure questions the model has not seen. Prints what it removes.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ofr_tools.held_out import held_out_texts, near_copy, normalise_example

ROOT = Path(__file__).resolve().parent.parent

_ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    for language in ("en", "de"):
        held_out = [
            normalise_example(t)
            for t in held_out_texts(
                language, ROOT / "tests" / "nlu", ROOT / "tests" / "event_questions"
            )
        ]
        held_out = [t for t in held_out if len(t) >= 12]
        for path in sorted((ROOT / "data" / "nlu" / language).glob("*.yml")):
            kept, removed = [], 0
            for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
                stripped = line.strip()
                if stripped.startswith("- ") and line.startswith("    "):
                    text = normalise_example(_ENTITY.sub(r"\1", stripped[2:]))
                    if any(near_copy(t, text) for t in held_out):
                        print(f"{path.relative_to(ROOT)}: {stripped[2:]}")
                        removed += 1
                        continue
                kept.append(line)
            if removed and not args.dry_run:
                path.write_text("".join(kept), encoding="utf-8")


if __name__ == "__main__":
    main()
