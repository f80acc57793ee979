"""Benchmarks of invtrack against the ceiling of its own stack, on PostgreSQL.

`make bench` (or `python -m bench`) runs everything in one go against
throwaway databases on the server at INVTRACK_BENCH_PG (default
postgresql://postgres@127.0.0.1:5432/postgres) and writes
`bench/results/latest.md` (README-ready tables, the machine, every target
marked met or missed) and `bench/results/latest.json` (every raw figure and a
summary). `--quick` runs the same with 100,000 events and 4-second runs;
`--only rebuild,queries,ingest,peer` picks parts.

The parts, in the order they run:

- load (bench/dataset.py): a generated history of ServiceMobility and OFS
  events, COPY'd into the store.
- rebuild (bench/rebuild.py): `projections.rebuild.rebuild` over the whole
  history in a subprocess (events/s, peak RSS), against reading and decoding
  the same events without projecting them.
- queries (bench/queries.py): a technician's stock and an item's history,
  100 concurrent clients, `invtrack serve` with 1 and 2 workers.
- ingest (bench/ingest.py): ServiceMobility envelopes (1 and 20 rows) and OFS
  pages (50 events), every request new, driven by wrk (bench/wrk/*.lua) at a
  real `invtrack serve` and at the ceiling (bench/ceiling.py: the same stack
  without the database), 1 and 2 workers.
- peer (bench/peer.py): the `eventsourcing` library appending the same
  payloads to the same PostgreSQL at the same concurrency.

wrk drives the HTTP load when installed; otherwise a Python load generator
(bench/load.py) does, and the results say which.
"""
