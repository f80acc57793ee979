from datetime import UTC, datetime

from adapters.store import EventStore, NewEvent


async def test_append_and_read_back(store: EventStore) -> None:
    async with store.writing() as writer:
        stored = await writer.append(
            [
                NewEvent(
                    stream_id="s",
                    type="t",
                    data={"a": 1},
                    occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
                    dedupe_key="k",
                )
            ]
        )
    assert [event.position for event in stored] == [1]
    assert (await store.read_all())[0].data == {"a": 1}
