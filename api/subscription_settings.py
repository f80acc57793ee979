"""Settings of the push subscriptions (README.md, "Configuration"):
INVTRACK_SUBSCRIPTION_PARK_AFTER, INVTRACK_SUBSCRIPTION_ALLOW_PRIVATE,
INVTRACK_SUBSCRIPTION_ALLOW_HTTP, INVTRACK_SUBSCRIPTION_TIMEOUT and
INVTRACK_SUBSCRIPTION_DELIVER."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

import msgspec

_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d)?")
_UNITS: Final = {None: 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class SubscriptionSettings(msgspec.Struct, frozen=True, kw_only=True):
    park_after: float = 24 * 3600.0
    """Seconds a subscription may keep failing before it is parked."""
    allow_private: bool = False
    """Deliver to loopback, private, link-local and metadata addresses too."""
    allow_http: bool = False
    """Deliver to plain http URLs too."""
    timeout: float = 10.0
    """Longest one delivery attempt may take, connecting to the last byte."""
    deliver: bool = True
    """Run the deliverer inside `invtrack serve`."""


class SettingError(ValueError):
    pass


def duration(text: str, name: str) -> float:
    """Seconds from `90`, `90s`, `15m`, `24h` or `2d`."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None or float(found.group(1)) <= 0:
        raise SettingError(
            f"INVTRACK_{name} must be a duration such as 90s, 15m, 24h or 2d, not {text[:40]!r}"
        )
    return float(found.group(1)) * _UNITS[found.group(2)]


def subscription_settings(get: Callable[[str], str | None]) -> SubscriptionSettings:
    def flag(name: str, default: bool) -> bool:
        value = get(name)
        return default if value is None else value.lower() in ("1", "true", "yes", "on")

    park = get("SUBSCRIPTION_PARK_AFTER")
    timeout = get("SUBSCRIPTION_TIMEOUT")
    return SubscriptionSettings(
        park_after=24 * 3600.0 if park is None else duration(park, "SUBSCRIPTION_PARK_AFTER"),
        allow_private=flag("SUBSCRIPTION_ALLOW_PRIVATE", False),
        allow_http=flag("SUBSCRIPTION_ALLOW_HTTP", False),
        timeout=10.0 if timeout is None else duration(timeout, "SUBSCRIPTION_TIMEOUT"),
        deliver=flag("SUBSCRIPTION_DELIVER", True),
    )
