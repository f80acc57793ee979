"""Who may do what: a caller's token checked, and the scope an action needs.

Scopes come from the token (`adapters.auth`); `read` actions accept read,
write or admin, `write` actions write or admin, `admin` actions admin only.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from adapters.auth import Claims, InvalidToken, TokenVerifier, allows


class Verifier(Protocol):
    async def verify_async(self, token: str) -> Claims: ...


class VerifiedTokens:
    """Tokens verified once and remembered until they expire: a sender or a
    dashboard sends the same token with every request, and checking its
    signature again each time is most of what answering costs. At most
    `most` tokens are remembered, the least recently used going first; a
    token that failed is never remembered."""

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        most: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.verifier = verifier
        self.most = most
        self.clock = clock
        self._known: OrderedDict[str, tuple[Claims, float]] = OrderedDict()

    async def verify_async(self, token: str) -> Claims:
        known = self._known.get(token)
        if known is not None:
            claims, expires = known
            if self.clock() < expires:
                self._known.move_to_end(token)
                return claims
            del self._known[token]
        claims = await self.verifier.verify_async(token)
        self._known[token] = (claims, claims.expires_at.timestamp())
        if len(self._known) > self.most:
            self._known.popitem(last=False)
        return claims


class NotAuthenticated(Exception):
    """No token, or one that does not verify. `title` is what the caller's
    protocol calls it (ServiceMobility expects `Invalid Logon`)."""

    def __init__(self, reason: str, title: str = "Unauthorized") -> None:
        super().__init__(reason)
        self.reason = reason
        self.title = title


class NotAllowed(Exception):
    """A valid token whose scope does not allow the action."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def authenticate(
    verifier: Verifier, token: str | None, *, title: str = "Unauthorized"
) -> Claims:
    """The claims of a token that verifies; `KeysUnavailable` when its keys
    cannot be fetched right now."""
    if not token:
        raise NotAuthenticated("a token is required", title)
    try:
        return await verifier.verify_async(token)
    except InvalidToken as error:
        raise NotAuthenticated(str(error), title) from None


def require(claims: Claims, scope: str, action: str) -> None:
    """Raises NotAllowed unless the token's scope grants `scope`."""
    if not allows(claims, scope):
        raise NotAllowed(f"{action} needs the {_granting(scope)} scope")


def require_sender(claims: Claims) -> None:
    """A webhook sender's token either carries no scope at all (the shape
    ServiceMobility's own tokens have) or one that grants `write`."""
    if "scope" in claims.raw or "scp" in claims.raw:
        require(claims, "write", "sending webhooks")


def _granting(scope: str) -> str:
    return {"read": "read, write or admin", "write": "write or admin"}.get(scope, scope)
