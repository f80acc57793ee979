"""The contract of dashboard sessions: kept at sign-in, found by key, ended
one by one or all of a person's at once, listed and counted while open, and
forgotten a day after they expired."""

from __future__ import annotations

from datetime import timedelta

from adapters.store import SessionRecord, Store
from tests.contract.support import T0, is_utc

HOUR = timedelta(hours=1)


def session(key: str, subject: str, *, at: int = 0, hours: int = 8) -> SessionRecord:
    return SessionRecord(
        key=key,
        subject=subject,
        name=subject.title(),
        scopes=("admin", "read"),
        method="sso",
        started_at=T0 + at * HOUR,
        expires_at=T0 + (at + hours) * HOUR,
    )


class SessionsContract:
    async def test_a_session_is_kept_and_found_by_its_key(self, store: Store) -> None:
        kept = session("k-1", "ana")
        await store.open_session(kept)

        found = await store.session("k-1")
        assert found == kept
        assert found is not None
        assert is_utc(found.started_at)
        assert is_utc(found.expires_at)
        assert await store.session("k-2") is None

    async def test_ending_a_session_ends_it_once(self, store: Store) -> None:
        await store.open_session(session("k-1", "ana"))
        now = T0 + HOUR

        assert await store.end_session("k-1", now)
        assert not await store.end_session("k-1", now + HOUR)
        assert not await store.end_session("k-9", now)
        ended = await store.session("k-1")
        assert ended is not None
        assert ended.ended_at == now
        assert not ended.open_at(now)

    async def test_a_persons_sessions_end_together(self, store: Store) -> None:
        for key, subject in (("k-1", "ana"), ("k-2", "ana"), ("k-3", "ben")):
            await store.open_session(session(key, subject))
        now = T0 + HOUR

        assert await store.end_sessions_of("ana", now) == 2
        assert await store.end_sessions_of("ana", now) == 0
        assert [record.key for record in await store.open_sessions(now)] == ["k-3"]
        assert await store.count_open_sessions(now) == 1

    async def test_open_sessions_by_person_then_newest_first(self, store: Store) -> None:
        await store.open_session(session("k-1", "ben", at=0))
        await store.open_session(session("k-2", "ana", at=1))
        await store.open_session(session("k-3", "ana", at=2))
        await store.open_session(session("k-4", "cid", at=0, hours=1))
        now = T0 + 3 * HOUR  # k-4 has expired

        assert [record.key for record in await store.open_sessions(now)] == ["k-3", "k-2", "k-1"]
        assert [record.key for record in await store.open_sessions(now, limit=1)] == ["k-3"]
        assert await store.count_open_sessions(now) == 3
        assert await store.end_sessions_of("cid", now) == 0

    async def test_sessions_long_over_are_forgotten_at_the_next_sign_in(self, store: Store) -> None:
        await store.open_session(session("old", "ana", hours=1))
        await store.open_session(session("recent", "ana", at=20, hours=1))
        # A day and more after `old` expired, less after `recent` did.
        await store.open_session(session("new", "ben", at=30))

        assert await store.session("old") is None
        assert await store.session("recent") is not None
