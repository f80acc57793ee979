-- POST /ofs/events: every request an Events API page of new events, each for
-- an inventory id never used before, in this run or any other.
-- Arguments: token events run (the run number, bench/ids.py: inventory ids
-- are run * 10^10 + thread * 10^8 + k, written as digits: `run`, the thread
-- in two digits, k in eight).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local types = { "MODEM", "CABLE", "ONT", "STB" }

function init(args)
  token, per_page, run = args[1], tonumber(args[2]), args[3]
  assert(run and run:match("^[1-9]%d*$") and #run <= 9, "the run number must be given")
  assert(id < 100, "at most 100 threads")
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
  count_events = true
end

local function activity(k)
  return string.format(
    '"activityDetails":{"activityId":%d,"resourceId":"TECH_%03d","date":"2026-11-20",' ..
    '"apptNumber":"WO-%d","customerNumber":"C-%d"},', 4000000 + k % 50000, k % 200, k, k % 5000)
end

local function event(n, j)
  local k = (n - 1) * per_page + j
  assert(k < 100000000, "more events than a run's id space holds")
  local inventory = string.format("%s%02d%08d", run, id, k)
  local kind, status, extra = "resourceInventoryCreated", "resource", ""
  if j % 3 == 1 then
    kind, status, extra = "inventoryInstalled", "installed", activity(k)
  elseif j % 3 == 2 then
    kind, status, extra = "customerInventoryCreated", "customer", activity(k)
  end
  local kind_of = types[k % #types + 1]
  return string.format(
    '{"eventType":"%s","time":"2026-11-20 09:%02d:%02d","user":"tech%d",%s' ..
    '"inventoryDetails":{"inventoryId":%s,"inventoryType":"%s","serialNumber":"SN-%s",' ..
    '"status":"%s"},"inventoryChanges":{"inventoryId":%s,"status":"%s",' ..
    '"resourceId":"TECH_%03d","inventoryType":"%s","serialNumber":"SN-%s"}}',
    kind, k % 60, j % 60, k % 200, extra, inventory, kind_of, inventory, status,
    inventory, status, k % 200, kind_of, inventory)
end

function request()
  sent = sent + 1
  local parts = {}
  for j = 1, per_page do
    parts[j] = event(sent, j)
  end
  local body = '{"found":true,"nextPage":"' .. run .. "-" .. id .. "-" .. sent ..
    '","items":[' .. table.concat(parts, ",") .. "]}"
  return wrk.format("POST", "/ofs/events", headers, body)
end
