"""`invtrack token`: a signed JWT for the configured HS256 key."""

from __future__ import annotations

import argparse
import sys

from api.settings import Settings


def token(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.auth import mint
    from api.app import with_key

    if (settings.auth.public_key or settings.auth.jwks_url) and not settings.auth.secret:
        print(
            "invtrack: tokens are verified with a public key; mint them with the "
            "matching private key, not with invtrack",
            file=sys.stderr,
        )
        return 2
    secret = with_key(settings).auth.secret
    assert secret is not None
    print(mint(secret, scope=args.scope, ttl_seconds=args.ttl))
    return 0
