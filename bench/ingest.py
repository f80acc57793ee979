"""Ingest: accepted requests and events per second against the ceiling.

The real server is `invtrack serve` on a store; the ceiling is the same stack
answering without the database (bench/ceiling.py). Both run side by side, and
each case is driven at the ceiling and then at the real server, back to back,
with the same requests from the same load generator.

Around each real run the store is counted (bench/stores.py), by the run's own
sender (each run signs with a token of its own subject): every event the 200
answers acknowledged must be stored (answers come after the commit; the store
may hold a few more, from requests in flight when the load generator
stopped), every payload stored must have appended all its events, and no
answer may report a repeat. With the run's own ids (bench/ids.py) that
accounts for every request exactly: the payloads stored lie between the
accepted answers and the requests sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Final, NamedTuple

import msgspec

from bench import bodies
from bench.ids import RunNumbers
from bench.load import Load, run_python, run_wrk
from bench.servers import running
from bench.stores import Counter, Grown, settled
from tests.harness import tokens
from tests.harness.server import Server


class Workload(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str
    events: int
    """Events each request appends."""
    script: str


WORKLOADS: Final = {
    workload.name: workload
    for workload in (
        Workload(
            name="sm-1", label="ServiceMobility, 1 row", events=1, script="servicemobility.lua"
        ),
        Workload(
            name="sm-20", label="ServiceMobility, 20 rows", events=20, script="servicemobility.lua"
        ),
        Workload(name="ofs-50", label="OFS page, 50 events", events=50, script="ofs.lua"),
    )
}


class Case(msgspec.Struct, frozen=True):
    workload: str
    connections: int


class Run(msgspec.Struct, frozen=True, kw_only=True):
    part: str
    """`ingest`, `growth` or `sqlite`."""
    backend: str
    """`postgresql` or `sqlite`."""
    store: str
    """`history` (the generated history), `small` (the growth check's smaller
    one) or `fresh` (an empty store)."""
    store_events: int
    """Events in the store when the run started."""
    workers: int
    workload: str
    connections: int
    server: str
    """`invtrack`, `ceiling` or `bare`."""
    load: Load
    events_per_request: int
    grown: Grown | None = None
    """What the store gained during the measured run (real server only)."""

    @property
    def event_rate(self) -> float:
        return self.load.rate * self.events_per_request

    @property
    def durable(self) -> bool | None:
        """Every acknowledged event is stored."""
        if self.grown is None:
            return None
        acknowledged = self.load.ok * self.events_per_request
        return self.load.events == acknowledged and self.grown.events >= acknowledged

    @property
    def exact(self) -> bool | None:
        """Nothing was a repeat: every stored payload appended all its events,
        and the payloads stored lie between the accepted answers and the
        requests sent."""
        if self.grown is None:
            return None
        grown = self.grown
        return (
            self.load.repeats == 0
            and grown.events == grown.deliveries * self.events_per_request
            and self.load.ok <= grown.deliveries <= self.load.sent
        )


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    seconds: float
    warmup: float
    generator: str
    """`wrk` or `python`."""
    threads: int = 1
    """wrk threads."""


RUNS: Final = RunNumbers()


def sender(run: int) -> str:
    """The subject of a run's token: the store keeps it with every payload."""
    return f"bench-run-{run}"


def drive(
    url: str, workload: Workload, connections: int, settings: Settings, seconds: float
) -> tuple[Load, str]:
    """One run of the workload against the server at `url`, with ids of its
    own; its load and the sender its payloads are stored with."""
    run = RUNS.next()
    token = tokens.token("write", ttl=4 * 3600, subject=sender(run))
    if settings.generator == "wrk":
        load = run_wrk(
            url,
            workload.script,
            [token, str(workload.events), str(run)],
            connections=connections,
            seconds=seconds,
            threads=settings.threads,
        )
    else:
        make = (
            bodies.ofs(token, workload.events, run)
            if workload.script == "ofs.lua"
            else bodies.servicemobility(token, workload.events, run)
        )
        load = run_python(url, make, connections=connections, seconds=seconds)
    return load, sender(run)


class Group(msgspec.Struct, frozen=True, kw_only=True):
    """Cases run against one store with the same servers."""

    part: str
    """The part of the bench it belongs to: `ingest`, `growth` or `sqlite`."""
    backend: str
    store: str
    workers: int
    cases: tuple[Case, ...]
    with_ceiling: bool = True


class Lane(NamedTuple):
    """A group with its servers (the ceiling's and the bare app's when it has
    them) and its store."""

    group: Group
    real: Server
    ceiling: Server | None
    counter: Counter
    bare: Server | None = None


def measure(lanes: Sequence[Lane], settings: Settings, log: Callable[[str], None]) -> list[Run]:
    """Every case of every lane in turn, at the bare app and at the ceiling
    (when the lane has them) just before the real server, with every server
    running throughout (a lane may come back to servers an earlier lane used)."""
    servers = list(
        {
            id(server): server
            for lane in lanes
            for server in (lane.real, lane.ceiling, lane.bare)
            if server
        }.values()
    )
    runs: list[Run] = []
    with _all_running(servers):
        for lane in lanes:
            for case in lane.group.cases:
                if lane.bare is not None:
                    runs.append(_stack_only(lane, lane.bare, "bare", case, settings))
                    log(_line(runs[-1]))
                if lane.ceiling is not None:
                    runs.append(_stack_only(lane, lane.ceiling, "ceiling", case, settings))
                    log(_line(runs[-1]))
                runs.append(_real(lane, case, settings))
                log(_line(runs[-1]))
                if runs[-1].durable is False or runs[-1].exact is False:
                    log("  the store does not account for every answer")
    return runs


def _run(lane: Lane, case: Case, server: str, load: Load, store_events: int) -> Run:
    return Run(
        part=lane.group.part,
        backend=lane.group.backend,
        store=lane.group.store,
        store_events=store_events,
        workers=lane.group.workers,
        workload=case.workload,
        connections=case.connections,
        server=server,
        load=load,
        events_per_request=WORKLOADS[case.workload].events,
    )


def _stack_only(lane: Lane, server: Server, name: str, case: Case, settings: Settings) -> Run:
    """A run at a server without the database (the ceiling, the bare app)."""
    workload = WORKLOADS[case.workload]
    drive(server.url, workload, case.connections, settings, settings.warmup)
    load, _ = drive(server.url, workload, case.connections, settings, settings.seconds)
    return _run(lane, case, name, load, lane.counter.mark().position)


def _real(lane: Lane, case: Case, settings: Settings) -> Run:
    workload = WORKLOADS[case.workload]
    drive(lane.real.url, workload, case.connections, settings, settings.warmup)
    before = settled(lane.counter)
    load, sent_by = drive(lane.real.url, workload, case.connections, settings, settings.seconds)
    settled(lane.counter)
    run = _run(lane, case, "invtrack", load, before.position)
    return msgspec.structs.replace(run, grown=lane.counter.grown(before, sent_by))


@contextlib.contextmanager
def _all_running(servers: Sequence[Server]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for server in servers:
            stack.enter_context(running(server))
        yield


def _line(run: Run) -> str:
    load = run.load
    line = (
        f"  {run.backend[:6]:6} {run.server:8} {run.workers}w {run.workload:6} "
        f"c{run.connections:<3} "
        f"{load.rate:8.1f} req/s {run.event_rate:9.0f} events/s  p50 {load.p50_ms:7.1f} ms  "
        f"p99 {load.p99_ms:7.1f} ms  failed {load.failed}  generator CPU {load.generator_cpu:.2f}"
    )
    if run.grown is not None:
        line += (
            f"  stored {run.grown.events} (acked {load.events}, {run.grown.deliveries} payloads, "
            f"{load.ok} answered, {load.sent} sent, repeats {load.repeats}"
            + (f", {run.grown.strays} of an earlier run" if run.grown.strays else "")
            + ")"
        )
    return line
