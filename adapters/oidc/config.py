"""How invtrack signs people in through an OpenID Connect provider, and how
the provider's roles become invtrack's scopes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import msgspec

SCOPES: Final = ("read", "write", "admin")


class OidcConfig(msgspec.Struct, frozen=True, kw_only=True):
    """INVTRACK_OIDC_* settings. `role_map` pairs a provider role with the
    invtrack scope it grants; `roles_claim` names the ID token claim holding
    the roles (a dotted path reaches into objects: `realm_access.roles`)."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    roles_claim: str = "roles"
    role_map: tuple[tuple[str, str], ...] = ()
    redirect_uri: str | None = None
    """Where the provider sends the browser back; None: this site's
    `/ui/oidc/callback`, as the browser reached it."""
    leeway_seconds: int = 30

    def __repr__(self) -> str:  # configuration gets logged; the secret must not be
        secret = None if self.client_secret is None else "<redacted>"
        return (
            f"OidcConfig(issuer={self.issuer!r}, client_id={self.client_id!r}, "
            f"client_secret={secret!r}, roles_claim={self.roles_claim!r}, "
            f"role_map={self.role_map!r}, redirect_uri={self.redirect_uri!r})"
        )


def parse_role_map(text: str) -> tuple[tuple[str, str], ...]:
    """`role=scope,role=scope` as pairs; ValueError says what is wrong."""
    pairs: list[tuple[str, str]] = []
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        role, equals, scope = (side.strip() for side in part.partition("="))
        if not equals or not role:
            raise ValueError(f"{part!r} is not role=scope")
        if scope not in SCOPES:
            raise ValueError(f"{part!r} maps to {scope!r}; a role maps to read, write or admin")
        if any(known == role and granted != scope for known, granted in pairs):
            raise ValueError(f"the role {role!r} is mapped twice")
        pairs.append((role, scope))
    if not pairs:
        raise ValueError("it maps no role (e.g. stock-controller=read,ops=admin)")
    return tuple(pairs)


def roles_in(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The roles a token's claims hold under `claim` (a dotted path): a list
    of strings, or one string of roles separated by spaces."""
    value: Any = claims
    for name in claim.split("."):
        value = value.get(name) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return [role for role in value.split(" ") if role]
    if isinstance(value, list):
        return [role for role in value if isinstance(role, str)]
    return []


def granted_scopes(roles: Iterable[str], role_map: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The invtrack scopes the roles grant, in the order read, write, admin."""
    held = set(roles)
    granted = {scope for role, scope in role_map if role in held}
    return tuple(scope for scope in SCOPES if scope in granted)
