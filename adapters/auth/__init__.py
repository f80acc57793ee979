"""Tokens: verifying the JWTs callers present (`verifier`, with PyJWT, and
`claims`, what a verified token says), and the development secret and
minting (`secret`)."""

from adapters.auth.claims import SCOPES, Claims, InvalidToken, KeysUnavailable, allows
from adapters.auth.secret import SECRET_FILE_NAME, existing_secret, load_or_create_secret, mint
from adapters.auth.verifier import MAX_TOKEN_LENGTH, AuthConfig, TokenVerifier

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
