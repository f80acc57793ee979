"""Verified tokens are remembered until they expire, a bounded number of them,
and a token that fails is checked again every time."""

from __future__ import annotations

import time

import pytest

from adapters.auth import AuthConfig, Claims, InvalidToken, TokenVerifier, mint
from api.services.access import VerifiedTokens

SECRET = "verified-tokens-secret-0123456789abcdef0123"


class Counting(TokenVerifier):
    """The real verifier, counting the tokens it was asked to check."""

    checked = 0

    async def verify_async(self, token: str) -> Claims:
        self.checked += 1
        return await super().verify_async(token)


def verifier() -> Counting:
    return Counting(AuthConfig(secret=SECRET))


async def test_a_token_is_checked_once_while_it_lives() -> None:
    counting = verifier()
    tokens = VerifiedTokens(counting)
    token = mint(SECRET, scope="read", ttl_seconds=600)

    first = await tokens.verify_async(token)
    again = await tokens.verify_async(token)

    assert again == first
    assert first.scopes == frozenset({"read"})
    assert counting.checked == 1


async def test_a_token_is_not_remembered_past_its_expiry() -> None:
    counting = verifier()
    now = [time.time()]
    tokens = VerifiedTokens(counting, clock=lambda: now[0])
    token = mint(SECRET, scope="read", ttl_seconds=60)
    await tokens.verify_async(token)
    now[0] += 59
    await tokens.verify_async(token)
    assert counting.checked == 1

    now[0] += 2
    await tokens.verify_async(token)
    assert counting.checked == 2


async def test_the_least_recently_used_token_goes_first() -> None:
    counting = verifier()
    tokens = VerifiedTokens(counting, most=2)
    one, two, three = (mint(SECRET, scope=s, ttl_seconds=600) for s in ("read", "write", "admin"))
    for token in (one, two, one, three):
        await tokens.verify_async(token)
    assert counting.checked == 3

    await tokens.verify_async(one)
    assert counting.checked == 3
    await tokens.verify_async(two)
    assert counting.checked == 4


async def test_a_token_that_fails_is_never_remembered() -> None:
    counting = verifier()
    tokens = VerifiedTokens(counting)
    forged = mint("another-secret-0123456789abcdef0123456789", scope="admin", ttl_seconds=600)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await tokens.verify_async(forged)
    assert counting.checked == 2
