"""The peer: the Python `eventsourcing` library appending the same events.

Its Application with the PostgreSQL recorder (psycopg), run by as many threads
as the ingest benchmark has connections. Every save stores as many new
aggregates as an ingest request appends events, each created with the stored
data of one generated invtrack event, so the payloads have the same sizes.
The recorder gets the connection budget an invtrack worker has (a pool of 10
plus 10 overflow). Run as `python -m bench.peer URL EVENTS THREADS SECONDS`;
prints one JSON line.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import msgspec
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from sqlalchemy.engine import make_url

from bench.dataset import sample
from domain.events import to_data


class Appended(msgspec.Struct, frozen=True, kw_only=True):
    events: int
    saves: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class Recorded(Aggregate):
    """An aggregate created with one event's data."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data


class Ledger(Application[Any]):
    pass


def environment(url: str) -> dict[str, str]:
    parsed = make_url(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parsed.database or "postgres",
        "POSTGRES_HOST": parsed.host or "127.0.0.1",
        "POSTGRES_PORT": str(parsed.port or 5432),
        "POSTGRES_USER": parsed.username or "postgres",
        "POSTGRES_PASSWORD": parsed.password or "",
        "POSTGRES_POOL_SIZE": "10",
        "POSTGRES_MAX_OVERFLOW": "10",
    }


def append(url: str, per_save: int, threads: int, seconds: float, warmup: float = 1.0) -> Appended:
    payloads = [to_data(event) for event in sample(2_000)]
    app = Ledger(env=environment(url))
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"events": 0, "saves": 0}
    start_at = time.monotonic() + warmup
    stop_at = start_at + seconds

    def work(worker: int) -> None:
        n = worker * 7919
        while (now := time.monotonic()) < stop_at:
            aggregates = []
            for _ in range(per_save):
                n += 1
                aggregates.append(Recorded(data=payloads[n % len(payloads)]))
            began = time.perf_counter()
            app.save(*aggregates)
            took = time.perf_counter() - began
            if now >= start_at:
                with lock:
                    latencies.append(took)
                    counts["events"] += per_save
                    counts["saves"] += 1

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    app.close()
    ordered = sorted(latencies) or [0.0]
    return Appended(
        events=counts["events"],
        saves=counts["saves"],
        seconds=seconds,
        p50_ms=ordered[len(ordered) // 2] * 1000,
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    )


if __name__ == "__main__":
    url, per_save, threads, seconds = sys.argv[1], *map(int, sys.argv[2:4]), float(sys.argv[4])
    result = append(url, per_save, threads, seconds)
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
