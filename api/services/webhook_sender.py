"""One delivery attempt: the batch signed by Standard Webhooks, posted to the
address its URL was checked to resolve to (never resolved again), redirects
not followed, the whole exchange bounded in time, and at most a little of
the answer read. What it came to is an `Outcome`; `retry_delay` is the pure
backoff with jitter."""

from __future__ import annotations

import asyncio
import email.utils
import random
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import httpx
import msgspec
from standardwebhooks.webhooks import Webhook

from api.services.ssrf import Refused, Resolver, Target, check, system_resolver

FIRST_RETRY: Final = 5.0
"""Seconds before the first retry, at most (jitter takes it down to half)."""
LONGEST_RETRY: Final = 600.0
"""Retries are at most this many seconds apart, `Retry-After` included."""
ANSWER_BYTES: Final = 512
"""Bytes of a failed answer kept for its error message."""


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    delivered: bool
    error: str | None = None
    retry_after: float | None = None
    """Seconds the subscriber asked to wait (429 or 503 with `Retry-After`)."""
    refused: bool = False
    """The URL was refused (it may not be delivered to)."""


def retry_delay(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds before the next attempt after `attempts` failed ones: doubling
    from FIRST_RETRY with full jitter on its upper half, at most LONGEST_RETRY;
    a subscriber's `Retry-After` instead, within the same bound."""
    if retry_after is not None:
        return min(max(retry_after, 1.0), LONGEST_RETRY)
    ceiling = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)
    return rng.uniform(ceiling / 2, ceiling)


def retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds: a number of seconds or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def signed_headers(secret: str, message_id: str, body: bytes, now: datetime) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
        "content-type": "application/cloudevents-batch+json",
    }


def _to_address(target: Target) -> str:
    """The URL with its host replaced by the address checked."""
    parts = urlsplit(target.url)
    host = f"[{target.address}]" if ":" in target.address else target.address
    return urlunsplit((parts.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))


class Sender:
    """Posts batches; one client (connection pool) for every subscription."""

    def __init__(
        self,
        *,
        timeout: float,
        allow_private: bool,
        allow_http: bool,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self.allow_http = allow_http
        self.resolver = resolver
        self.client = httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False)

    async def send(self, url: str, secret: str, message_id: str, body: bytes) -> Outcome:
        try:
            target = await check(
                url,
                allow_http=self.allow_http,
                allow_private=self.allow_private,
                resolver=self.resolver,
            )
        except Refused as error:
            return Outcome(delivered=False, error=f"refused: {error}", refused=True)
        now = datetime.now(UTC)
        headers = {"host": _host_header(target), **signed_headers(secret, message_id, body, now)}
        try:
            async with asyncio.timeout(self.timeout):
                return await self._post(target, headers, body, now)
        except TimeoutError:
            return Outcome(delivered=False, error=f"no answer within {self.timeout:g} s")
        except httpx.HTTPError as error:
            return Outcome(delivered=False, error=f"{type(error).__name__}: {error}"[:300])

    async def _post(
        self, target: Target, headers: dict[str, str], body: bytes, now: datetime
    ) -> Outcome:
        request = self.client.build_request(
            "POST",
            _to_address(target),
            content=body,
            headers=headers,
            extensions={"sni_hostname": target.host},
        )
        response = await self.client.send(request, stream=True)
        try:
            status = response.status_code
            if 200 <= status < 300:
                return Outcome(delivered=True)
            answer = await _some(response)
        finally:
            await response.aclose()
        if 300 <= status < 400:
            where = response.headers.get("location", "")[:200]
            return Outcome(delivered=False, error=f"{status}: redirects are not followed ({where})")
        wait = (
            retry_after(response.headers.get("retry-after"), now) if status in (429, 503) else None
        )
        return Outcome(delivered=False, error=f"{status}: {answer}".strip(), retry_after=wait)

    async def close(self) -> None:
        await self.client.aclose()


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.url.startswith("https") else 80
    return host if target.port == default else f"{host}:{target.port}"


async def _some(response: httpx.Response) -> str:
    kept = b""
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) >= ANSWER_BYTES:
            break
    return kept[:ANSWER_BYTES].decode(errors="replace").replace("\n", " ")
