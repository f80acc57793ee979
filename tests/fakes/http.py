"""What the fake vendor servers share: a plain ASGI app that records what it was
asked, answers injected faults (an error status, optionally with
`Retry-After`, or a slow answer) before its own routes, and speaks JSON.

A fake with `contracts` (the vendor's OpenAPI files, `tests.fakes.contract`)
checks every request invtrack sends it, and every answer it gives, against them.

`FlakyTransport` adds broken connections and timeouts on the client side, and
`serving()` runs any ASGI app on a real socket with uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs

import httpx
import msgspec
import uvicorn

from tests.fakes.contract import Contract, check_answer, check_request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Answer = tuple[int, Any, dict[str, str]]
"""Status, JSON payload (None for no body) and extra headers."""

_encoder: Final = msgspec.json.Encoder(decimal_format="number")


@dataclass(frozen=True)
class Fault:
    """An injected failure: answer `status` (after `delay` seconds), or only delay."""

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    path: str | None = None

    def applies(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path)


@dataclass(frozen=True)
class Seen:
    """A request the fake received; status 0 when the client left before the answer."""

    method: str
    path: str
    query: dict[str, str]
    status: int


class Problem(Exception):
    """An error answer: the fake's vendor writes it in its own error body."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


@dataclass(kw_only=True)
class FakeServer(ABC):
    """An ASGI app: records each request, answers faults first, then `answer`."""

    seen: list[Seen] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    held: list[str] = field(default_factory=list)
    """The paths of the requests a stall is holding the answer of, now."""
    holding: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a stall holds an answer."""
    contracts: tuple[Contract, ...] = ()
    """The vendor's OpenAPI files that requests and answers are checked against."""

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next `times` requests (to `path`, if given) with `status`."""
        for _ in range(times):
            self.faults.append(Fault(status=status, retry_after=retry_after, path=path))

    def stall(self, seconds: float, *, times: int = 1, path: str | None = None) -> None:
        """Answer the next `times` requests only after `seconds`."""
        for _ in range(times):
            self.faults.append(Fault(delay=seconds, path=path))

    @abstractmethod
    def answer(
        self, scope: Scope, method: str, path: str, query: dict[str, str], body: bytes
    ) -> Answer:
        """The answer to a request no fault took; may raise Problem."""

    @abstractmethod
    def error(self, status: int, detail: str) -> Any:
        """The vendor's error body."""

    def headers(self, path: str) -> dict[str, str]:
        """Headers every answer to `path` carries (but injected faults)."""
        return {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        query = {
            key: values[0]
            for key, values in parse_qs(
                scope["query_string"].decode(), keep_blank_values=True
            ).items()
        }
        body = await _read_body(receive)
        if self.contracts:
            check_request(
                self.contracts,
                header(scope, b"user-agent"),
                method,
                path,
                scope["query_string"].decode(),
                header(scope, b"content-type"),
                body,
            )
        status, payload, headers = await self._respond(scope, receive, method, path, query, body)
        self.seen.append(Seen(method, path, query, status))
        if status == 0:
            return  # the client went away while the answer was stalled
        if self.contracts:
            check_answer(self.contracts, method, path, status, payload)
        content = b"" if payload is None else _encoder.encode(payload)
        header_list = [(b"content-type", b"application/json; charset=utf-8")] if content else []
        header_list += [(name.encode(), value.encode()) for name, value in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": header_list})
        await send({"type": "http.response.body", "body": content})

    async def _respond(
        self,
        scope: Scope,
        receive: Receive,
        method: str,
        path: str,
        query: dict[str, str],
        body: bytes,
    ) -> Answer:
        fault = self._next_fault(path)
        if fault is not None and fault.delay:
            self.held.append(path)
            self.holding.set()
            try:
                answered = await _wait_or_disconnect(receive, fault.delay)
            finally:
                self.held.remove(path)
            if not answered:
                return 0, None, {}
        if fault is not None and fault.status is not None:
            extra = {"retry-after": fault.retry_after} if fault.retry_after else {}
            return fault.status, self.error(fault.status, "injected failure"), extra
        try:
            status, payload, headers = self.answer(scope, method, path, query, body)
        except Problem as problem:
            status, payload = problem.status, self.error(problem.status, problem.detail)
            headers = problem.headers
        return status, payload, self.headers(path) | headers

    def _next_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.applies(path):
                self.faults.remove(fault)
                return fault
        return None


def header(scope: Scope, name: bytes) -> str:
    """A request header's value, empty when absent."""
    value: bytes = dict(scope["headers"]).get(name, b"")
    return value.decode("latin-1")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _wait_or_disconnect(receive: Receive, seconds: float) -> bool:
    """Wait `seconds`; False when the client disconnected first."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnected(), timeout=seconds)
    except TimeoutError:
        return True
    return False


class FlakyTransport(httpx.AsyncBaseTransport):
    """A client transport that fails the next requests like a bad network would."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.failures: deque[type[httpx.TransportError]] = deque()

    def fail_next(
        self, error: type[httpx.TransportError] = httpx.ConnectError, *, times: int = 1
    ) -> None:
        self.failures.extend([error] * times)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.failures:
            raise self.failures.popleft()("injected network failure", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextlib.asynccontextmanager
async def serving(app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 and a free port; yields its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.005)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
