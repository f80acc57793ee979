"""Benchmarks of invtrack against the ceilings of its own stack, each target
marked met or missed.

`make bench` (or `python -m bench`) runs everything in one go against
throwaway databases on the server at INVTRACK_BENCH_PG (default
postgresql://postgres@127.0.0.1:5432/postgres) and a SQLite file in a
temporary directory, and writes `bench/results/latest.md` (README-ready
tables: the machine and its load, the targets, every figure) and
`bench/results/latest.json` (every raw figure and a summary). `--quick` runs
the same with smaller stores and 4-second runs, and writes `quick.md` and
`quick.json` instead; `--only rebuild,queries,growth,ingest,sqlite` picks
parts (what they need is always set up: the PostgreSQL store is loaded and
its projections built for any of the first four) and writes `partial.md` and
`partial.json`. Only a full run of every part replaces `latest.*`.

The parts, in the order they run (bench/plan.py says what each measures in
the full and the quick run):

- load (bench/history.py, bench/dataset.py): a generated history of
  ServiceMobility and OFS events (1M; 100k quick), loaded through the
  store's port (`Store.load_history`: COPY on PostgreSQL).
- rebuild (bench/rebuild.py): `projections.rebuild.rebuild` over the whole
  history in a subprocess (events/s, peak RSS), next to its ceiling: reading
  and decoding the same events the same way without projecting them.
- queries (bench/queries.py): a technician's stock and an item's history,
  100 clients saturating `invtrack serve`, then paced at half that rate.
- growth: 1-row ingest on a store of the first tenth of the history, then on
  the whole history, one right after the other.
- ingest (bench/ingest.py): ServiceMobility envelopes (1 and 20 rows) and OFS
  pages (50 events), every request new (bench/ids.py), driven by wrk
  (bench/wrk/*.lua, one thread) at a real `invtrack serve` on the history and
  at the ceiling (bench/ceiling.py: the same stack without the database) just
  before, and with 1 worker at a bare Litestar app doing the same token check
  and msgspec decode (bench/bare.py) before that; 1 worker (and 2 in the full
  run). Around every real run the store
  is counted (bench/stores.py), by the run's own sender: every acknowledged
  event stored, each payload once.
- sqlite: the same against `invtrack serve` on a new SQLite file.

The servers, tokens and throwaway PostgreSQL databases are the tests' own
(tests/harness/server.py, tokens.py, postgres.py); the bench reaches the
store through its port only (an import contract says so).

The targets and the baseline they start from are in bench/targets.py. wrk
drives the HTTP load when installed; otherwise a Python load generator
(bench/load.py) sends the same requests, and the results say which.
"""
