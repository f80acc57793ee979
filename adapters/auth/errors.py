"""Why a token is not accepted."""

from __future__ import annotations


class InvalidToken(Exception):
    """The token cannot be accepted. `reason` is short and safe to show: it
    never contains the token or a key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(Exception):
    """The JWKS document could not be fetched, so a token that needs a key
    from it cannot be checked. This is a failure on our side, not the caller's."""
