"""Who may do what: a caller's token checked, and the scope an action needs.

Scopes come from the token (`adapters.auth`); `read` actions accept read,
write or admin, `write` actions write or admin, `admin` actions admin only.
"""

from __future__ import annotations

from adapters.auth import Claims, InvalidToken, TokenVerifier, allows


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
    verifier: TokenVerifier, token: str | None, *, title: str = "Unauthorized"
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
