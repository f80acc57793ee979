"""`invtrack replay-quarantine`: read quarantined payloads again and append them once."""

from __future__ import annotations

import argparse
import asyncio

from api.services.replay import replay_quarantine
from api.services.stores import open_store
from api.settings import Settings


def replay_command(settings: Settings, _: argparse.Namespace) -> int:
    return asyncio.run(run_replay_quarantine(settings))


async def run_replay_quarantine(settings: Settings) -> int:
    """Replay the quarantine and print what happened to it."""
    store = open_store(settings, pool_size=2)
    try:
        await store.migrate()
        result = await replay_quarantine(store)
    finally:
        await store.close()
    print(
        f"replayed {result.tried} quarantined payload(s): {result.accepted} accepted "
        f"({result.events} event(s) appended), {result.duplicates} duplicate(s), "
        f"{result.quarantined} still quarantined"
    )
    for inbox_id, reason in result.reasons.items():
        print(f"  payload {inbox_id}: {reason}")
    return 0
