"""Settings of the stock signals (README.md, "Configuration"):
INVTRACK_TRANSFER_WINDOW, INVTRACK_OFS_REQUIRED_EVERY and
INVTRACK_OFS_REQUIRED_DAYS."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from api.subscription_settings import SettingError, duration


class SignalSettings(msgspec.Struct, frozen=True, kw_only=True):
    transfer_window: float = 24 * 3600.0
    """Seconds a transfer with one half only is on its way before it is `open`."""
    required_every: float | None = None
    """Seconds between two runs of `ofs-required` inside `invtrack serve`
    (None: not run there)."""
    required_days: int = 2
    """Days ahead whose scheduled activities `ofs-required` reads."""


def signal_settings(get: Callable[[str], str | None]) -> SignalSettings:
    window = get("TRANSFER_WINDOW")
    every = get("OFS_REQUIRED_EVERY")
    days = get("OFS_REQUIRED_DAYS")
    if days is not None and not (days.isascii() and days.isdigit() and 0 < int(days) <= 60):
        raise SettingError(f"INVTRACK_OFS_REQUIRED_DAYS must be 1 to 60, not {days[:40]!r}")
    return SignalSettings(
        transfer_window=24 * 3600.0 if window is None else duration(window, "TRANSFER_WINDOW"),
        required_every=None if every is None else duration(every, "OFS_REQUIRED_EVERY"),
        required_days=2 if days is None else int(days),
    )
