"""Access tokens that expire: fetched with a request of their own, used until
shortly before they run out, and fetched again once when the server answers
401 (revoked early, or our clock and theirs disagree).

`RenewingAuth` is an httpx auth flow: the token request goes through the same
client (its transport, its timeouts) and never through the flow itself.
Vendors differ in how a token is asked for, read and sent; subclasses say how.
"""

from __future__ import annotations

import asyncio
import math
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable, Generator
from typing import NamedTuple

import httpx

from adapters.vendor_http import read_capped

EARLY_SECONDS = 60.0
"""Renew this long before a token expires (at most a tenth of its lifetime)."""
FLOOR_SECONDS = 30.0
"""A token is used at least this long, however short a lifetime its answer
states (a 401 still fetches a new one at once): never a token per request."""
UNSTATED_SECONDS = 3600.0
"""The lifetime taken for a token whose answer states none (or no usable one)."""
TOKEN_MAX_BYTES = 64 * 1024
"""Largest token answer read (a token is a few hundred bytes)."""


class Token(NamedTuple):
    value: str
    renew_at: float | None
    """When to fetch the next one (the clock's seconds); None: only after a 401."""


def renewal_time(now: float, lifetime: float | None, early: float = EARLY_SECONDS) -> float:
    """When a token valid for `lifetime` seconds from `now` is renewed: shortly
    before it runs out, never sooner than FLOOR_SECONDS from now; a lifetime
    that is missing or not a number counts as UNSTATED_SECONDS."""
    if lifetime is None or not math.isfinite(lifetime):
        lifetime = UNSTATED_SECONDS
    renew_after = lifetime - min(early, max(lifetime, 0.0) / 10)
    return now + max(renew_after, FLOOR_SECONDS)


class RenewingAuth(httpx.Auth, ABC):
    """Sends each request with a current token; one renewal after a 401."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.max_bytes = TOKEN_MAX_BYTES
        """Largest token answer read (AnswerTooLarge past it)."""
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
                    await self._read(answer)
                    token = self._token = self.read_token(answer)
                    self.fetched += 1
            self.sign(request, token.value)
            response = yield request
            if response.status_code != 401 or attempt == 2:
                return
            # httpx reads an answer the flow moves past: read it capped first.
            await self._read(response)
            stale = token

    async def _read(self, response: httpx.Response) -> None:
        """Read an answer of the flow within the cap, so that httpx (which reads
        it again once the flow moves on) finds it read."""
        response._content = await read_capped(response, self.max_bytes)

    def _due(self, token: Token) -> bool:
        return token.renew_at is not None and self.clock() >= token.renew_at
