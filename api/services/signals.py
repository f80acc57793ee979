"""The stock signals for the routes and pages: par levels set by hand (an
event, checked field by field), and the reads with the settings they need."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final

import msgspec

from adapters.store import NewEvent, Reader, Store
from api.http.problems import FieldError, Problem
from api.http.signal_schemas import ParLevelList, ParLevelsIn, par_levels_out
from api.signal_settings import SignalSettings
from domain.events import ManualLevel, ParLevelsSet, event_type
from domain.fold import stream_of
from domain.signals.par_levels import manual_level_problems
from domain.signals.recommendations import LONGEST_NAME
from projections.signal_reads import SignalReads

_AT: Final = re.compile(r"(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN: Final = re.compile(r"Object contains unknown field `(?P<field>[^`]*)`")
_MISSING: Final = re.compile(r"Object missing required field `(?P<field>[^`]*)`")


class Signals:
    def __init__(self, store: Store, settings: SignalSettings, reads: Reader | None = None) -> None:
        self.store = store
        self.settings = settings
        self.reads = SignalReads(reads or store)
        """What the signal routes and pages read: the read replica when there is one."""
        self._written = SignalReads(store)

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.settings.transfer_window)

    async def par_levels(self, resource_id: str) -> ParLevelList:
        return par_levels_out(resource_id, await self.reads.stock(resource_id))

    async def set_par_levels(
        self, resource_id: str, body: bytes, user: str | None, now: datetime | None = None
    ) -> ParLevelList:
        """Par levels set by hand, stored as a `ParLevelsSet` event; the
        resource's par levels after it. A 400 names every field that cannot
        be taken."""
        check_resource(resource_id)
        levels = manual_levels(body)
        problems = manual_level_problems(levels)
        if problems:
            errors = [FieldError(field=p.field, message=p.message) for p in problems]
            raise Problem(400, "Bad Request", errors[0].message, errors=errors)
        event = ParLevelsSet(
            occurred_at=now or datetime.now(UTC),
            resource_id=resource_id,
            levels=tuple(levels),
            user=user,
        )
        (stored,) = await self.store.append(
            [
                NewEvent(
                    stream_id=stream_of(event),
                    type=event_type(event),
                    data=event,
                    occurred_at=event.occurred_at,
                    dedupe_key=f"invtrack-par-levels-{uuid.uuid4()}",
                    metadata={"source": "invtrack", "user": user},
                )
            ]
        )
        answer = par_levels_out(resource_id, await self._written.stock(resource_id))
        return msgspec.structs.replace(answer, position=stored.position)


def check_resource(resource_id: str) -> None:
    if not resource_id.strip() or len(resource_id) > LONGEST_NAME or "\x00" in resource_id:
        message = f"must be 1 to {LONGEST_NAME} characters, without NUL"
        raise Problem(
            400, "Bad Request", message, errors=[FieldError(field="resourceId", message=message)]
        )


def manual_levels(body: bytes) -> list[ManualLevel]:
    """The body's par levels; a 400 naming the field when it is not to the schema."""
    try:
        found = msgspec.json.decode(body, type=ParLevelsIn)
    except msgspec.ValidationError as error:
        field, message = _field_of(str(error))
        raise Problem(
            400, "Bad Request", message, errors=[FieldError(field=field, message=message)]
        ) from None
    except msgspec.DecodeError as error:
        message = f"the body is not JSON: {error}"
        raise Problem(400, "Bad Request", message, errors=[FieldError("$", message)]) from None
    levels: list[ManualLevel] = []
    errors: list[FieldError] = []
    for index, level in enumerate(found.items):
        target = _quantity(level.target, f"items[{index}].target", errors)
        low = None if level.min is None else _quantity(level.min, f"items[{index}].min", errors)
        if target is not None:
            levels.append(ManualLevel(product=level.product, target=target, min=low))
    if errors:
        raise Problem(400, "Bad Request", errors[0].message, errors=errors)
    return levels


def _quantity(value: str | int | float, field: str, errors: list[FieldError]) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or isinstance(value, bool):
        errors.append(FieldError(field=field, message=f"must be a number, not {str(value)[:40]!r}"))
        return None
    return number


def _field_of(message: str) -> tuple[str, str]:
    """The field a msgspec validation message names (`items[0].min`), and the message."""
    found = _AT.match(message)
    assert found is not None
    path = (found.group("path") or "").lstrip(".")
    named = _UNKNOWN.search(message) or _MISSING.search(message)
    if named is not None:
        path = f"{path}.{named.group('field')}" if path else named.group("field")
    return path or "$", message
