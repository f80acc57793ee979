"""Reading the outer layers of a JSON document without a recursive parser.

A vendor page can be valid JSON that no parser here will read: one value
nested thousands of levels deep exceeds the decoders' depth limits. Such a
page must still be passed (its bytes quarantined, the cursor moved), so these
functions find the members of the top-level object and the elements of an
array as raw byte slices, scanning tokens iteratively at any depth. The
slices can then be decoded one by one; only the one too deep fails.

They do not validate everything (numbers and literals between tokens are
skipped); they return None for a document whose structure they cannot follow.
Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

_TOKEN: Final = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.DOTALL)
_OPEN: Final = frozenset(b"[{")
_CLOSE: Final = frozenset(b"]}")


def _slices(body: bytes, start: int, end: int) -> list[tuple[int, int]] | None:
    """The top-level comma-separated parts of the container whose contents are
    body[start:end], as (start, end) offsets, stripped; None when unbalanced."""
    parts: list[tuple[int, int]] = []
    depth = 0
    begin = start
    for token in _TOKEN.finditer(body, start, end):
        char = body[token.start()]
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
            if depth < 0:
                return None
        elif char == ord(",") and depth == 0:
            parts.append((begin, token.start()))
            begin = token.end()
    if depth != 0:
        return None
    parts.append((begin, end))
    return [(a, b) for a, b in (_strip(body, a, b) for a, b in parts) if a < b]


def _strip(body: bytes, start: int, end: int) -> tuple[int, int]:
    while start < end and body[start] in b" \t\r\n":
        start += 1
    while end > start and body[end - 1] in b" \t\r\n":
        end -= 1
    return start, end


def _container(body: bytes, opening: bytes, closing: bytes) -> tuple[int, int] | None:
    start, end = _strip(body, 0, len(body))
    if end - start < 2 or body[start : start + 1] != opening or body[end - 1 : end] != closing:
        return None
    return start + 1, end - 1


def members(body: bytes) -> dict[str, bytes] | None:
    """The raw value of each member of a JSON object, by key; None when `body`
    is not an object this scan can follow (the last of repeated keys wins)."""
    inside = _container(body, b"{", b"}")
    if inside is None:
        return None
    parts = _slices(body, *inside)
    if parts is None:
        return None
    found: dict[str, bytes] = {}
    for start, end in parts:
        key = _TOKEN.match(body, start, end)
        if key is None or body[key.start()] != ord('"'):
            return None
        colon = _TOKEN.match(body, *_strip(body, key.end(), end))
        if colon is None or body[colon.start()] != ord(":"):
            return None
        try:
            name = msgspec.json.decode(key.group(), type=str)
        except msgspec.DecodeError:
            return None
        found[name] = body[slice(*_strip(body, colon.end(), end))]
    return found


def elements(body: bytes) -> list[bytes] | None:
    """The raw elements of a JSON array; None when `body` is not an array this
    scan can follow."""
    stripped = body.strip()
    if stripped == b"[]":
        return []
    inside = _container(body, b"[", b"]")
    if inside is None:
        return None
    parts = _slices(body, *inside)
    return None if parts is None else [body[start:end] for start, end in parts]
