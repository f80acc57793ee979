"""How a kept payload is read: the one set of rules that receiving and
replaying the quarantine share.

A payload is taken in when its content type is JSON, its body is UTF-8 JSON
without repeated keys, and its source's translator turns it into facts. The
message id that deduplicates it is the envelope `id` for a ServiceMobility
webhook, and the SHA-256 of the body for an Export API page and for OFS (whose
events carry no id).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import unquote

import msgspec

from adapters import servicemobility
from adapters.ofs import TranslationError as OfsTranslationError
from adapters.ofs import translate as translate_ofs
from adapters.ofs.pages import BadEvent, read_pushed
from adapters.servicemobility_export.translate import EXPORT_KIND
from adapters.servicemobility_export.translate import translate_page as translate_export_page
from domain.events import Fact

JSON_TYPES: Final = ("application/json", "text/json")

CLOUDEVENT_ATTRIBUTES: Final = ("id", "type", "specversion", "source", "subject", "time", "action")
"""The envelope attributes a binary-mode CloudEvent carries as `ce-*` headers."""

OFS_KINDS: Final = ("events", "events-api")
TOO_DEEP: Final = "the body is nested too deeply"
"""Inbox kinds of OFS payloads: pushed to /ofs/events, and polled pages."""


class Unreadable(Exception):
    """The payload cannot be taken in; `field` says where (a JSON path, `$`
    for the whole body), empty when the problem is not in the body."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def reason(self) -> str:
        """What is kept with the quarantined payload."""
        return f"{self.field}: {self.message}" if self.field else self.message


class NotJson(Unreadable):
    """The content type says the body is not JSON."""

    def __init__(self, content_type: str) -> None:
        super().__init__(f"the body must be application/json, not {content_type}")
        self.content_type = content_type

    @property
    def reason(self) -> str:
        return f"content type {self.content_type}"


class Translated(msgspec.Struct, frozen=True, kw_only=True):
    """A payload's facts, the message id that deduplicates it, and the metadata
    every one of its events carries."""

    facts: tuple[Fact, ...]
    message_id: str
    metadata: dict[str, Any]


def content_id(body: bytes) -> str:
    """The message id of a payload that carries none (OFS events, Export API
    pages): its SHA-256."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


ofs_message_id = content_id


def check_content_type(content_type: str | None) -> None:
    """Raises NotJson unless the content type is absent or JSON."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind and kind not in JSON_TYPES and not kind.endswith("+json"):
        raise NotJson(kind)


def read_servicemobility(
    kind: str, body: bytes, sender: str | None, headers: Mapping[str, str] | None = None
) -> Translated:
    """A ServiceMobility webhook body of type `kind`, translated. In binary
    content mode the envelope's attributes come from the `ce-*` headers."""
    _check_body(body)
    with _translating():
        envelope = servicemobility.read_envelope(_structured(body, headers or {}), kind)
        facts = servicemobility.translate(envelope)
    _check_unique_keys(body)
    metadata = {
        "source": "servicemobility",
        "messageId": envelope.id,
        "sender": sender,
        "webhook": envelope.source,
    }
    return Translated(facts=tuple(facts), message_id=envelope.id, metadata=metadata)


def _structured(body: bytes, headers: Mapping[str, str]) -> bytes:
    """The envelope in CloudEvents structured mode: the body itself, or, in
    binary mode (a `ce-specversion` header), the attributes from the `ce-*`
    headers (percent-decoded, as the HTTP binding writes them) with the body
    as `data`."""
    if "ce-specversion" not in headers:
        return body
    attributes: dict[str, Any] = {
        name: unquote(headers[f"ce-{name}"])
        for name in CLOUDEVENT_ATTRIBUTES
        if f"ce-{name}" in headers
    }
    attributes["datacontenttype"] = headers.get("content-type")
    return msgspec.json.encode({**attributes, "data": msgspec.Raw(body)})


def read_servicemobility_export(body: bytes, sender: str | None) -> Translated:
    """A ServiceMobility Export API page, translated; its id is its SHA-256."""
    return _read_by_content(body, sender, "servicemobility", translate_export_page)


def read_ofs(body: bytes, sender: str | None) -> Translated:
    """One OFS event, an array of them or an Events API page, translated."""
    return _read_by_content(body, sender, "ofs", translate_ofs)


def read_ofs_pushed(body: bytes, sender: str | None) -> tuple[Translated, list[BadEvent]]:
    """OFS events pushed by a relay, read one by one: the facts of the good
    ones, and the bad ones set aside (each to be quarantined on its own).
    Unreadable when no event can be taken, or the body as a whole is wrong."""
    _check_body(body)
    with _translating():
        read = read_pushed(body)
    if read.bad and not read.facts:
        first = read.bad[0]
        raise Unreadable(first.message, first.field)
    try:
        _check_unique_keys(body)
    except Unreadable as error:
        # A body too deep for this check has its deep event among the bad ones.
        if error.message != TOO_DEEP or not read.bad:
            raise
    message_id = content_id(body)
    metadata = {"source": "ofs", "messageId": message_id, "sender": sender}
    return Translated(facts=tuple(read.facts), message_id=message_id, metadata=metadata), read.bad


def _read_by_content(
    body: bytes, sender: str | None, source: str, translate: Callable[[bytes], Iterable[Fact]]
) -> Translated:
    """A payload that carries no id, translated; its message id is its SHA-256."""
    _check_body(body)
    with _translating():
        facts = translate(body)
    _check_unique_keys(body)
    message_id = content_id(body)
    metadata = {"source": source, "messageId": message_id, "sender": sender}
    return Translated(facts=tuple(facts), message_id=message_id, metadata=metadata)


def read_kept(
    source: str,
    kind: str,
    body: bytes,
    content_type: str | None,
    sender: str | None,
    headers: Mapping[str, str] | None = None,
) -> Translated:
    """A payload kept in the inbox, read as its receiver reads it (with the
    headers kept beside it: a binary-mode CloudEvent's attributes)."""
    check_content_type(content_type)
    if source == "servicemobility":
        if kind == EXPORT_KIND:
            return read_servicemobility_export(body, sender)
        if kind not in servicemobility.TYPES:
            raise Unreadable(f"unknown webhook type {kind!r}")
        return read_servicemobility(kind, body, sender, headers)
    if source == "ofs" and kind in OFS_KINDS:
        return read_ofs(body, sender)
    raise Unreadable(f"no translator for {source} {kind} payloads")


def _check_body(body: bytes) -> None:
    """What every source needs before translation: UTF-8 text (RFC 8259)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Unreadable(f"the body is not UTF-8 (byte {error.start})", "$") from None
    if body.startswith(b"\xef\xbb\xbf"):
        raise Unreadable("the body starts with a byte order mark, which JSON must not have", "$")


@contextmanager
def _translating() -> Iterator[None]:
    """The translators' own errors, and their failures on hostile input, as Unreadable."""
    try:
        yield
    except (servicemobility.TranslationError, OfsTranslationError) as error:
        raise Unreadable(error.message, error.field) from None
    except RecursionError:
        raise Unreadable("the body is nested too deeply", "$") from None
    except OverflowError:
        raise Unreadable("a date or number is out of range", "$") from None
    except msgspec.MsgspecError as error:
        raise Unreadable(f"the body cannot be read: {error}", "$") from None


def _check_unique_keys(body: bytes) -> None:
    """No object in the (valid JSON) body has a key twice: parsers disagree on
    which of two equal keys wins, so such a body is refused as ambiguous."""
    try:
        json.loads(body, object_pairs_hook=_unique_keys)
    except _RepeatedKey as error:
        raise Unreadable(f"the key {error.key!r} appears twice in one object", "$") from None
    except RecursionError:
        raise Unreadable(TOO_DEEP, "$") from None
    except ValueError as error:
        raise Unreadable(f"the body cannot be read: {error}", "$") from None


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> None:
    # dict() counts the distinct keys at C speed: a set built in Python was
    # most of the check's cost on every object of every body.
    if len(pairs) > 1 and len(dict(pairs)) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
