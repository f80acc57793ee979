"""`invtrack token`: a signed JWT for the configured HS256 key.

It signs with INVTRACK_JWT_SECRET, or with the secret `invtrack serve`
created in the data directory; it never creates one itself, since a token
signed with a secret the server does not know would only be refused.
"""

from __future__ import annotations

import argparse

from adapters.auth import SECRET_FILE_NAME, existing_secret, mint
from api.cli.failures import Failure
from api.settings import Settings


def token(settings: Settings, args: argparse.Namespace) -> int:
    print(mint(_signing_secret(settings), scope=args.scope, ttl_seconds=args.ttl))
    return 0


def _signing_secret(settings: Settings) -> str:
    if settings.auth.secret:
        return settings.auth.secret
    if settings.auth.public_key or settings.auth.jwks_url:
        raise Failure(
            "tokens are verified with a public key; mint them with the matching private "
            "key, not with invtrack"
        )
    secret = existing_secret(settings.data_dir)
    if secret is None:
        raise Failure(
            f"no signing secret: INVTRACK_JWT_SECRET is not set and "
            f"{settings.data_dir / SECRET_FILE_NAME} does not exist; set INVTRACK_JWT_SECRET, "
            "or run `invtrack serve` once with the same INVTRACK_DATA_DIR to create one"
        )
    return secret
