"""The contract of the values kept: timestamps in UTC, metadata and data as
given, decimal strings exactly, old shapes lifted on read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from adapters.store import InboxEntry, Store
from tests.contract.support import append, is_utc, new_event, opened, receive


class ValuesContract:
    async def test_timestamps_come_back_timezone_aware_utc(self, store: Store) -> None:
        offset = timezone(timedelta(hours=-5, minutes=-30))
        occurred = datetime(2026, 3, 1, 2, 30, 15, 123456, tzinfo=offset)
        before = datetime.now(UTC)
        stored = await append(store, [new_event("k1", occurred_at=occurred)])
        after = datetime.now(UTC)

        (event,) = await store.read_events()
        assert stored == [event]
        assert is_utc(stored[0].occurred_at)
        assert is_utc(stored[0].recorded_at)
        assert event.occurred_at == occurred
        assert event.occurred_at == datetime(2026, 3, 1, 8, 0, 15, 123456, tzinfo=UTC)
        assert is_utc(event.occurred_at)
        assert is_utc(event.recorded_at)
        assert before <= event.recorded_at <= after
        (streamed,) = await store.read_stream("stream-a")
        assert is_utc(streamed.occurred_at)

    async def test_naive_timestamps_are_taken_as_utc(self, store: Store) -> None:
        naive = datetime(2026, 3, 1, 8, 0, 0, 500)
        (inbox_id,) = await receive(
            store, InboxEntry(source="ofs", kind="page", body=b"{}", received_at=naive)
        )
        stored = await append(store, [new_event("k1", occurred_at=naive)])

        assert inbox_id is not None
        (event,) = await store.read_events()
        assert stored == [event]
        assert event.occurred_at == naive.replace(tzinfo=UTC)
        assert is_utc(event.occurred_at)
        kept = await store.inbox_entry(inbox_id)
        assert kept is not None
        assert kept.received_at == naive.replace(tzinfo=UTC)
        assert is_utc(kept.received_at)

    async def test_metadata_round_trips(self, store: Store) -> None:
        metadata: dict[str, Any] = {
            "request_id": "req-7",
            "sender": {"tenant": "t-1", "roles": ["ingest", "read"]},
            "attempt": 3,
            "ratio": 0.25,
            "replayed": False,
            "note": None,
            "text": "Zoë ✓ \u0000 \n",
        }
        await append(store, [new_event("k1", metadata=metadata), new_event("k2")])

        first, second = await store.read_events()
        assert first.metadata == metadata
        assert second.metadata == {}

    async def test_decimal_strings_in_data_round_trip_exactly(self, store: Store) -> None:
        data: dict[str, Any] = {
            "quantity": "1.10",
            "zero": "0.000",
            "negative": "-0.0001",
            "large": "123456789012345678901234567890.123456789012345678901",
            "exponent": "1E+3",
            "lines": [{"quantity_in": "2.50"}, {"quantity_out": "100"}],
        }
        as_decimals: dict[str, Any] = {
            "quantity": Decimal("1.10"),
            "large": Decimal("123456789012345678901234567890.123456789012345678901"),
            "negative_zero": Decimal("-0.00"),
        }
        await append(store, [new_event("k1", data=data), new_event("k2", data=as_decimals)])

        strings, decimals = await store.read_events()
        assert strings.data == data
        assert decimals.data == {key: str(value) for key, value in as_decimals.items()}
        assert {key: Decimal(value) for key, value in decimals.data.items()} == as_decimals
        assert Decimal(decimals.data["quantity"]).as_tuple() == Decimal("1.10").as_tuple()

    async def test_events_are_upcast_on_read(self, store: Store, database_url: str) -> None:
        def lift(event_type: str, version: int, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
            if event_type == "test.Happened" and version == 1:
                return {**data, "lifted": True}, 2
            return data, version

        await append(store, [new_event("k1")])
        async with opened(database_url, upcaster=lift) as upcasting:
            (event,) = await upcasting.read_events()
        assert (event.schema_version, event.data) == (2, {"key": "k1", "lifted": True})
        (raw,) = await store.read_events()
        assert (raw.schema_version, raw.data) == (1, {"key": "k1"})
