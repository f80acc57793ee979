-- Shared by the bench scripts: thread ids, counting requests and answers, and
-- one JSON line of results (prefixed BENCH_JSON) that bench/load.py reads.
--
-- An ingest script sets `count_events = true`: each 200 answer then adds the
-- events it says were appended (`"events":N`) and counts a repeat when it says
-- the payload or some of its events were stored before.
--
-- `sent` counts the requests written: the calls of request(), less the one
-- wrk makes in thread 0 to check the script before the run, whose request it
-- never sends (wrk.c: script_verify_request, for the first thread only).

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

ok, failed, sent, events, repeats = 0, 0, 0, 0, 0
count_events = false

function response(status, headers, body)
  if status ~= 200 then
    failed = failed + 1
    return
  end
  ok = ok + 1
  if count_events and body then
    events = events + tonumber(body:match('"events":(%d+)') or "0")
    if body:find('"duplicate":true', 1, true) or body:match('"duplicates":[1-9]') then
      repeats = repeats + 1
    end
  end
end

function done(summary, latency, requests)
  local totals = { ok = 0, failed = 0, sent = 0, events = 0, repeats = 0 }
  for _, thread in ipairs(threads) do
    for name, value in pairs(totals) do
      totals[name] = value + thread:get(name)
    end
  end
  totals.sent = totals.sent - 1  -- the request built to check the script
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"ok":%d,"failed":%d,"sent":%d,"events":%d,"repeats":%d,"requests":%d,' ..
    '"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    totals.ok, totals.failed, totals.sent, totals.events, totals.repeats, summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
