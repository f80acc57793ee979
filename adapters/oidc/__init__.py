"""Single sign-on through an OpenID Connect provider: the authorization code
flow with PKCE (Authlib's protocol helpers), the provider's discovery
document and JWKS, and ID tokens verified with joserfc against pinned
algorithms, `iss`, `aud`, `exp` and the `nonce` of the sign-in."""

from adapters.oidc.client import (
    Identity,
    OidcClient,
    Pending,
    ProviderUnavailable,
    SignOnRefused,
)
from adapters.oidc.config import OidcConfig, granted_scopes, parse_role_map

__all__ = [
    "Identity",
    "OidcClient",
    "OidcConfig",
    "Pending",
    "ProviderUnavailable",
    "SignOnRefused",
    "granted_scopes",
    "parse_role_map",
]
