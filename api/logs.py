"""Logging: text or one JSON object per line, configured in every process
that serves (the `serve` command, and each worker through the app's startup).

Tokens and secrets never reach a log line (see api.routes.request_log), and
nothing a caller sends can start a line of its own: control characters in
any field are written as escapes (`\\n`, `\\x1b`), in text and in JSON.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Final

_STANDARD: Final = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}
_DROPPED: Final = frozenset({"color_message"})
"""Extras never logged: uvicorn's copy of its message with terminal colours."""

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\\]")
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def escaped(text: str) -> str:
    """`text` on one line, its control characters (and `\\`) as escapes."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    return _NAMED.get(character) or (
        f"\\x{ord(character):02x}" if ord(character) < 0x100 else f"\\u{ord(character):04x}"
    )


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and key not in _DROPPED
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line; JSON writes control characters as escapes."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=True)


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...`, every part escaped; a
    traceback follows on its own lines, with its other control characters escaped."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{self.formatTime(record)} {record.levelname} {record.name}: "
            f"{escaped(record.getMessage())}"
        )
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={escaped(str(v))}" for k, v in extras.items())
        if record.exc_info:
            trace = self.formatException(record.exc_info)
            line += "\n" + "\n".join(escaped(part) for part in trace.splitlines())
        return line


def configure(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        # uvicorn's own loggers go through the root handler, like every other.
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # Migrations say what they run at INFO on every start; only problems matter.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
