"""Tokens: verifying the JWTs callers present (with PyJWT), and minting our own.

- `config`: the accepted algorithms and keys, and the checks that refuse an
  unusable configuration;
- `verifier`: `TokenVerifier`, PyJWT's checks plus our stricter rules;
- `jwks`: keys from a JWKS document through PyJWT's `PyJWKClient`;
- `claims`: who a token names and which scopes it grants;
- `secret`: the development secret and minting.
"""

from adapters.auth.claims import SCOPES, Claims, allows
from adapters.auth.config import AuthConfig
from adapters.auth.errors import InvalidToken, KeysUnavailable
from adapters.auth.secret import SECRET_FILE_NAME, existing_secret, load_or_create_secret, mint
from adapters.auth.verifier import MAX_TOKEN_LENGTH, TokenVerifier

__all__ = [
    "MAX_TOKEN_LENGTH",
    "SCOPES",
    "SECRET_FILE_NAME",
    "AuthConfig",
    "Claims",
    "InvalidToken",
    "KeysUnavailable",
    "TokenVerifier",
    "allows",
    "existing_secret",
    "load_or_create_secret",
    "mint",
]
