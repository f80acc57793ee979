"""Logging: text or one JSON object per line, configured in every process
that serves (the `serve` command, and each worker through the app's startup).

Nothing a caller sends can start a line of its own: control characters in
any field are written as escapes (`\\n`, `\\x1b`), in text and in JSON.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final

_STANDARD: Final = {
    *logging.makeLogRecord({}).__dict__,
    "message",
    "asctime",
    "color_message",
}
"""Not extras: the record's own attributes (with the two that formatting adds,
`message` and `asctime`), and uvicorn's coloured copy of its message."""
_CONTROLS: Final = (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, ord("\\"))
_ESCAPES: Final = {code: ascii(chr(code))[1:-1] for code in _CONTROLS}
"""Each control character (and `\\`) as Python writes it: `\\n`, `\\x1b`, `\\u2028`."""


def escaped(text: str) -> str:
    """`text` on one line, its control characters (and `\\`) as escapes."""
    return text.translate(_ESCAPES)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; JSON writes control characters as escapes."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...` escaped; a traceback follows
    on lines of its own, each escaped."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        extras = "".join(f" {key}={value}" for key, value in _extras(record).items())
        return escaped(super().formatMessage(record) + extras)

    def formatException(self, exc_info: Any) -> str:
        return "\n".join(map(escaped, super().formatException(exc_info).splitlines()))


def configure(level: str = "INFO", fmt: str = "text") -> None:
    """Every logger through one handler on stderr, uvicorn's too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # Migrations say what they run at INFO on every start; only problems matter.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
