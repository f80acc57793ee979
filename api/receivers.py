"""Receiving deliveries: authenticate, keep the raw payload, translate, commit.

The HTTP handlers only hand over the request; this is where a delivery becomes
an answer. A payload that cannot be translated is kept in quarantine, so
nothing an authenticated sender sent is ever lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec

from adapters import servicemobility
from adapters.auth import Claims, InvalidToken, KeysUnavailable, TokenVerifier, allows
from adapters.ofs.translate import TranslationError as OfsTranslationError
from adapters.ofs.translate import translate as translate_ofs
from adapters.store import Delivery, InboxEntry, Receipt
from api.problems import FieldError, Problem, keys_unavailable
from api.schemas import Accepted, OfsAccepted
from domain.events import Fact
from projections.ingest import CommitFailed, Ingestor

KEPT_HEADERS = ("content-type", "content-length", "user-agent", "x-request-id", "ce-id")
"""Headers kept with a raw payload. Never the token headers."""

JSON_TYPES = ("application/json", "text/json")


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
            envelope = servicemobility.read_envelope(body, kind)
            facts = servicemobility.translate(envelope)
        except servicemobility.TranslationError as error:
            raise await self._reject(entry, error.message, error.field) from None
        metadata = {
            "source": "servicemobility",
            "messageId": envelope.id,
            "sender": claims.subject,
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
            facts: list[Fact] = translate_ofs(body)
        except OfsTranslationError as error:
            raise await self._reject(entry, error.message, error.field) from None
        metadata = {"source": "ofs", "messageId": digest, "sender": claims.subject}
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
        content_type=headers.get("content-type"),
        headers={name: headers[name] for name in KEPT_HEADERS if name in headers},
        sender=claims.subject,
    )


def _with_message_id(entry: InboxEntry, message_id: str) -> InboxEntry:
    return msgspec.structs.replace(entry, message_id=message_id)


def _bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None


def _challenge() -> dict[str, Any]:
    return {"WWW-Authenticate": "Bearer"}
