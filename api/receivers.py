"""Receiving deliveries: authenticate, keep the raw payload, translate, commit.

The HTTP handlers only hand over the request; this is where a delivery becomes
an answer. A payload that cannot be translated is kept in quarantine, so
nothing an authenticated sender sent is ever lost.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from adapters import servicemobility
from adapters.auth import Claims, InvalidToken, KeysUnavailable, TokenVerifier, allows
from adapters.ofs.translate import TranslationError as OfsTranslationError
from adapters.ofs.translate import translate as translate_ofs
from adapters.store import Delivery, InboxEntry, Receipt
from api.problems import FieldError, Problem, keys_unavailable
from api.schemas import Accepted, OfsAccepted
from projections.ingest import CommitFailed, Ingestor

KEPT_HEADERS = ("content-type", "content-length", "user-agent", "x-request-id", "ce-id")
"""Headers kept with a raw payload. Never the token headers."""

JSON_TYPES = ("application/json", "text/json")

LONGEST_TEXT: Final = 255
"""Width of the inbox's short text columns (content type, sender)."""


class Unreadable(Exception):
    """The body cannot be taken in, whatever the source; `field` says where."""

    def __init__(self, message: str, field: str = "$") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Receiver:
    def __init__(self, ingestor: Ingestor, verifier: TokenVerifier) -> None:
        self.ingestor = ingestor
        self.verifier = verifier

    async def servicemobility(self, kind: str, body: bytes, headers: Mapping[str, str]) -> Accepted:
        claims = await self._logon(headers.get("x-access-token"))
        if kind not in servicemobility.TYPES:
            raise Problem(404, "Not Found", f"unknown webhook type {kind!r}")
        entry = _entry("servicemobility", kind, body, headers, claims)
        await self._check_content_type(entry, headers)
        try:
            _check_body(body)
            with _translating():
                envelope = servicemobility.read_envelope(body, kind)
                facts = servicemobility.translate(envelope)
            _check_unique_keys(body)
        except (servicemobility.TranslationError, Unreadable) as error:
            raise await self._reject(entry, error.message, error.field) from None
        metadata = {
            "source": "servicemobility",
            "messageId": envelope.id,
            "sender": entry.sender,
            "webhook": envelope.source,
        }
        receipt = await self._commit(
            Delivery(
                inbox=_with_message_id(entry, envelope.id),
                facts=tuple(facts),
                metadata=metadata,
            )
        )
        return Accepted(
            status="accepted",
            id=envelope.id,
            duplicate=receipt.duplicate,
            events=receipt.appended,
        )

    async def ofs(self, body: bytes, headers: Mapping[str, str]) -> OfsAccepted:
        token = _bearer(headers.get("authorization")) or headers.get("x-access-token")
        claims = await self._logon(token, title="Unauthorized")
        if not allows(claims, "write"):
            raise Problem(403, "Forbidden", "pushing OFS events needs the write or admin scope")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        entry = _with_message_id(_entry("ofs", "events", body, headers, claims), digest)
        await self._check_content_type(entry, headers)
        try:
            _check_body(body)
            with _translating():
                facts = translate_ofs(body)
            _check_unique_keys(body)
        except (OfsTranslationError, Unreadable) as error:
            raise await self._reject(entry, error.message, error.field) from None
        metadata = {"source": "ofs", "messageId": digest, "sender": entry.sender}
        receipt = await self._commit(Delivery(inbox=entry, facts=tuple(facts), metadata=metadata))
        return OfsAccepted(
            status="accepted",
            received=len(facts),
            duplicates=len(facts) - receipt.appended,
            events=receipt.appended,
        )

    async def _logon(self, token: str | None, title: str = "Invalid Logon") -> Claims:
        if not token:
            raise Problem(401, title, "a token is required", headers=_challenge())
        try:
            return await self.verifier.verify_async(token)
        except InvalidToken as error:
            raise Problem(401, title, str(error), headers=_challenge()) from None
        except KeysUnavailable:
            raise keys_unavailable() from None

    async def _check_content_type(self, entry: InboxEntry, headers: Mapping[str, str]) -> None:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type and content_type not in JSON_TYPES and not content_type.endswith("+json"):
            await self._commit(Delivery(inbox=entry, rejected=f"content type {content_type}"))
            raise Problem(
                415,
                "Unsupported Media Type",
                f"the body must be application/json, not {content_type}; it was kept",
            )

    async def _reject(self, entry: InboxEntry, message: str, field: str) -> Problem:
        """Keep the payload in quarantine and say what is wrong with it."""
        field = field or "$"
        await self._commit(Delivery(inbox=entry, rejected=f"{field}: {message}"))
        return Problem(
            400,
            "Bad Request",
            f"{message} (the payload was kept)",
            errors=[FieldError(field=field, message=message)],
        )

    async def _commit(self, delivery: Delivery) -> Receipt:
        try:
            return await self.ingestor.submit(delivery)
        except CommitFailed:
            raise Problem(
                500,
                "Internal Server Error",
                "the delivery could not be stored; nothing of it was kept, send it again",
            ) from None


def _entry(
    source: str, kind: str, body: bytes, headers: Mapping[str, str], claims: Claims
) -> InboxEntry:
    return InboxEntry(
        source=source,
        kind=kind,
        body=body,
        received_at=datetime.now(UTC),
        content_type=_column_text(headers.get("content-type")),
        headers={name: headers[name] for name in KEPT_HEADERS if name in headers},
        sender=_column_text(claims.subject),
    )


def _column_text(value: str | None) -> str | None:
    """A header or claim as a short text column holds it: at most LONGEST_TEXT
    characters of valid Unicode without NUL. The headers are kept in full."""
    if value is None:
        return None
    cleaned = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    return cleaned[:LONGEST_TEXT]


def _check_body(body: bytes) -> None:
    """What every source needs before translation: UTF-8 text (RFC 8259)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Unreadable(f"the body is not UTF-8 (byte {error.start})") from None
    if body.startswith(b"\xef\xbb\xbf"):
        raise Unreadable("the body starts with a byte order mark, which JSON must not have")


@contextmanager
def _translating() -> Iterator[None]:
    """Failures of the (pure) translators on hostile input, as Unreadable."""
    try:
        yield
    except RecursionError:
        raise Unreadable("the body is nested too deeply") from None
    except OverflowError:
        raise Unreadable("a date or number is out of range") from None
    except msgspec.MsgspecError as error:
        raise Unreadable(f"the body cannot be read: {error}") from None


def _check_unique_keys(body: bytes) -> None:
    """No object in the (valid JSON) body has a key twice."""
    try:
        json.loads(body, object_pairs_hook=_unique_keys)
    except _RepeatedKey as error:
        raise Unreadable(f"the key {error.key!r} appears twice in one object") from None
    except RecursionError:
        raise Unreadable("the body is nested too deeply") from None
    except ValueError as error:
        raise Unreadable(f"the body cannot be read: {error}") from None


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> None:
    # Parsers disagree on which of two equal keys wins: refused as ambiguous.
    if len(pairs) > 1 and len({key for key, _ in pairs}) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)


def _with_message_id(entry: InboxEntry, message_id: str) -> InboxEntry:
    return msgspec.structs.replace(entry, message_id=message_id)


def _bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None


def _challenge() -> dict[str, Any]:
    return {"WWW-Authenticate": "Bearer"}
