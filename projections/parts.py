"""Filling building slots in several processes, one part of the items each.

The fold of one item depends on the events that touch it and its own state
alone, so the items can be split by a hash of their key (`Part`) and each part
folded by its own process: every process reads and decodes the whole history,
keeps the events that touch its part and writes that part's rows, with a
checkpoint of its own. All parts stop at the same position, which then becomes
the slots' checkpoint in one transaction. A part's process that fails or is
stopped leaves its checkpoint behind, and the next run resumes every part
where it stopped.

It pays where the machine has cores to spare beyond the database's: every
part still reads and decodes the whole history, about half of the work of
folding it whole.

A part's process is `python -m projections.parts`: it reads its job (JSON) on
standard input and tells its progress on standard output, one JSON line per
committed batch. Only PostgreSQL is filled this way (SQLite takes one writer
at a time), and only with the standard upcasters, which a new process has.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Sequence

import msgspec

from adapters.store import Slot, Store, connect
from domain.upcasters import upcast
from projections.catalog import by_name
from projections.filling import Report, collecting_less, fill
from projections.reading import Part


class Start(msgspec.Struct, frozen=True):
    """Where one projection's building slot stands: its checkpoint and, when it
    is being filled in parts, the checkpoint of each part."""

    name: str
    slot: Slot
    position: int
    parts: dict[tuple[int, int], int] = msgspec.field(default_factory=dict)

    def count(self, default: int) -> int:
        """How many parts fill it: as many as an interrupted fill used."""
        return next(iter(self.parts))[1] if self.parts else default

    def at(self, part: Part) -> int:
        return self.parts.get(part, self.position)


class Slice(msgspec.Struct, frozen=True):
    """One projection's share of a part's job: its slot, from where."""

    name: str
    slot: Slot
    position: int


class Job(msgspec.Struct, frozen=True):
    """What one part's process does."""

    url: str
    busy_seconds: float
    slices: list[Slice]
    part: Part
    through: int
    batch_size: int


class Told(msgspec.Struct, frozen=True, omit_defaults=True):
    """A line a part's process writes: events read, or its end."""

    read: int = 0
    folded: dict[str, int] | None = None
    failed: str | None = None


def can_split(store: Store) -> bool:
    """Whether this store can be filled in parts: several processes can fill
    it at once, and it reads with the standard upcasters (which a new process
    has)."""
    return store.parallel_fills and store.upcast is upcast


async def fill_in_parts(
    store: Store,
    starts: Sequence[Start],
    count: int,
    through: int,
    report: Report,
    size: int,
) -> Counter[str]:
    """Fill the slots up to `through` in `count` processes; returns the events
    each projection folded (the most any part did)."""
    address = store.address
    jobs = []
    for number in range(count):
        part = Part(number, count)
        slices = [Slice(start.name, start.slot, start.at(part)) for start in starts]
        jobs.append(Job(address.url, address.busy_seconds, slices, part, through, size))
    workers: list[asyncio.subprocess.Process] = []
    following: list[asyncio.Task[dict[str, int]]] = []
    progress = _Progress(count, report)
    try:
        for job in jobs:
            worker = await _launch(job)
            workers.append(worker)
            following.append(asyncio.create_task(_follow(worker, job.part, progress)))
        ends = await asyncio.gather(*following)
        progress.finish()
    finally:
        for task in following:
            task.cancel()
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
            await worker.wait()
    folded: Counter[str] = Counter()
    for end in ends:
        folded |= Counter(end)
    return folded


async def _launch(job: Job) -> asyncio.subprocess.Process:
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "projections.parts",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert worker.stdin is not None
    worker.stdin.write(msgspec.json.encode(job))
    worker.stdin.close()
    return worker


class _Progress:
    """Events read as far as the slowest part has got."""

    def __init__(self, count: int, report: Report) -> None:
        self.read = [0] * count
        self.reported = 0
        self.report = report

    def advance(self, part: Part, read: int) -> None:
        self.read[part.number] += read
        if min(self.read) > self.reported:
            self.report(min(self.read) - self.reported)
            self.reported = min(self.read)

    def finish(self) -> None:
        if max(self.read) > self.reported:
            self.report(max(self.read) - self.reported)


async def _follow(
    worker: asyncio.subprocess.Process, part: Part, progress: _Progress
) -> dict[str, int]:
    """Relay a part's progress until it ends; raise when it fails."""
    assert worker.stdout is not None
    told = Told()
    async for line in worker.stdout:
        told = msgspec.json.decode(line, type=Told)
        if told.failed is not None:
            raise RuntimeError(f"part {part.number + 1} of {part.of} failed: {told.failed}")
        progress.advance(part, told.read)
    code = await worker.wait()
    if told.folded is None:
        raise RuntimeError(f"part {part.number + 1} of {part.of} stopped (exit code {code})")
    return told.folded


async def _fill_part(job: Job) -> Counter[str]:
    projections = {projection.name: projection for projection in by_name(None)}
    store = connect(job.url, pool_size=2, busy_seconds=job.busy_seconds)
    try:
        builders = [projections[each.name].builder(each.slot, each.position) for each in job.slices]

        def report(read: int) -> None:
            _tell(Told(read=read))

        position = min(builder.position for builder in builders)
        _, folded = await fill(
            store, builders, report, position, job.batch_size, part=job.part, through=job.through
        )
        return folded
    finally:
        await store.close()


def _tell(told: Told) -> None:
    sys.stdout.buffer.write(msgspec.json.encode(told) + b"\n")
    sys.stdout.flush()


def main() -> int:
    """A part's process: the job on standard input, progress on standard output."""
    job = msgspec.json.decode(sys.stdin.buffer.read(), type=Job)
    try:
        with collecting_less():
            folded = asyncio.run(_fill_part(job))
    except Exception as error:  # told to the parent, which raises it
        _tell(Told(failed=f"{type(error).__name__}: {error}"))
        return 1
    _tell(Told(folded=dict(folded)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
