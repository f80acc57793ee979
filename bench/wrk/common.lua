-- Shared by the bench scripts: thread ids, counting answers, and one JSON line
-- of results (prefixed BENCH_JSON) that bench/load.py reads.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

ok, failed, sent = 0, 0, 0

function response(status, headers, body)
  if status == 200 then
    ok = ok + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local accepted, refused = 0, 0
  for _, thread in ipairs(threads) do
    accepted = accepted + thread:get("ok")
    refused = refused + thread:get("failed")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"ok":%d,"failed":%d,"requests":%d,"duration_us":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    accepted, refused, summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
