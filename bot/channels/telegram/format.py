"""Text for Telegram: HTML-escaped and split below the 4096-character limit."""

from __future__ import annotations

import html
from typing import List

MAX_MESSAGE_LENGTH = 4096


def escape(text: str) -> str:
    """Escape user- and data-provided text for parse_mode=HTML (links stay clickable)."""
    return html.escape(text, quote=False)


def split_message(text: str, limit: int = MAX_MESSAGE_LENGTH) -> List[str]:
    """Split at paragraph boundaries, then lines, then words; never over ``limit``."""
    if len(text) <= limit:
        return [text]
    chunks: List[str] = []
    current = ""
    for piece in text.split("\n\n"):
        candidate = f"{current}\n\n{piece}" if current else piece
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        current = ""
        if len(piece) <= limit:
            current = piece
        else:
            chunks.extend(_split_long(piece, limit))
    if current:
        chunks.append(current)
    return chunks


def _split_long(text: str, limit: int) -> List[str]:
    chunks: List[str] = []
    current = ""
    for word in text.replace("\n", " \n ").split(" "):
        while len(word) > limit:  # a single word longer than a message
            if current:
                chunks.append(current)
                current = ""
            chunks.append(word[:limit])
            word = word[limit:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= limit:
            current = candidate
        else:
            chunks.append(current)
            current = word
    if current.strip():
        chunks.append(current)
    return [chunk.replace(" \n ", "\n").strip() for chunk in chunks if chunk.strip()]
