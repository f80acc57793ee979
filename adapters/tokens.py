"""Access tokens that expire: fetched with a request of their own, used until
shortly before they run out, and fetched again once when the server answers
401 (revoked early, or our clock and theirs disagree).

`RenewingAuth` is an httpx auth flow: the token request goes through the same
client (its transport, its timeouts) and never through the flow itself.
Vendors differ in how a token is asked for, read and sent; subclasses say how.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Generator
from typing import NamedTuple

import httpx

EARLY_SECONDS = 60.0
"""Renew this long before a token expires (at most a tenth of its lifetime)."""


class Token(NamedTuple):
    value: str
    renew_at: float | None
    """When to fetch the next one (the clock's seconds); None: only after a 401."""


def renewal_time(now: float, lifetime: float | None, early: float = EARLY_SECONDS) -> float | None:
    """When a token valid for `lifetime` seconds from `now` is renewed."""
    if lifetime is None:
        return None
    return now + lifetime - min(early, max(lifetime, 0.0) / 10)


class RenewingAuth(httpx.Auth, ABC):
    """Sends each request with a current token; one renewal after a 401."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self.fetched = 0
        """Tokens fetched so far."""

    @abstractmethod
    def token_request(self) -> httpx.Request:
        """The request that gets a token."""

    @abstractmethod
    def read_token(self, response: httpx.Response) -> Token:
        """The token in the answer (its body is read); raises the vendor's error otherwise."""

    @abstractmethod
    def sign(self, request: httpx.Request, token: str) -> None:
        """Put the token on a request."""

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("token renewal needs an httpx.AsyncClient")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        stale: Token | None = None
        for attempt in (1, 2):
            async with self._lock:
                token = self._token
                if token is None or token is stale or self._due(token):
                    answer = yield self.token_request()
                    await answer.aread()
                    token = self._token = self.read_token(answer)
                    self.fetched += 1
            self.sign(request, token.value)
            response = yield request
            if response.status_code != 401 or attempt == 2:
                return
            stale = token

    def _due(self, token: Token) -> bool:
        return token.renew_at is not None and self.clock() >= token.renew_at
