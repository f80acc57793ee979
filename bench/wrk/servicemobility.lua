-- POST /servicemobility/InventoryUsage/: every request a new envelope and new
-- rows (one item each), so nothing is a duplicate, in this run or any other.
-- Arguments: token rows run (the run number, bench/ids.py: it makes the ids
-- `{run}-{thread}-{n}` for envelopes and `{run}-{thread}-{n}-{i}` for rows).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local products = {
  "CBL-CAT6", "FUSE-10A", "ONT-G240", "CONN-RJ45", "SPLIT-1X8", "PATCH-2M",
  "STB-4K", "ROUTER-AX3", "DROP-50M", "CLAMP-P", "TAPE-INS", "SFP-1G",
}
local modules = { "1001", "1002", "1002", "1003", "1008" }

function init(args)
  token, rows, run = args[1], tonumber(args[2]), args[3]
  assert(run and run:match("^%d+$"), "the run number must be given")
  prefix = run .. "-" .. id
  headers = { ["Content-Type"] = "application/json", ["x-access-token"] = token }
  count_events = true
end

local function row(n, i)
  local k = n * 31 + i
  local module = modules[k % #modules + 1]
  local inq, outq = "0.0", "1.0"
  if module == "1001" then inq, outq = "10.0", "0.0" end
  local ref = (module == "1002" and "WO-" or "REF-") .. prefix .. "-" .. n
  return string.format(
    '{"rowver":"%s-%d-%d","InventoryUsage":{"UserID":"tech%d",' ..
    '"ModifiedUTC":"2026-11-20T09:15:00Z","RefModule":"%s","RefObjID":"%s",' ..
    '"StorageLocations":[{"StorageLocationID":"TECH_%03d","Items":[{"BatchNum":"",' ..
    '"DispositionReasons":[],"InQty":%s,"InventoryDamagedQty":0.0,"InventoryQty":%d.0,' ..
    '"OutQty":%s,"ProdNum":"%s","ReportedDamagedQty":0.0,"SerialNum":""}]}]}}',
    prefix, n, i, k % 200, module, ref, k % 200, inq, k % 90, outq,
    products[k % #products + 1])
end

function request()
  sent = sent + 1
  local parts = {}
  for i = 1, rows do
    parts[i] = row(sent, i)
  end
  local body = '{"id":"' .. prefix .. "-" .. sent .. '","type":"InventoryUsage",' ..
    '"specversion":"1.0","source":"5ad09380-8258-4d84-a440-e2d35043ae92","subject":null,' ..
    '"time":"2026-11-20T09:20:00.000Z","datacontenttype":"application/json","action":"",' ..
    '"data":{"rowver":"AAAAAAAB9xQ=","rows":[' .. table.concat(parts, ",") .. "]}}"
  return wrk.format("POST", "/servicemobility/InventoryUsage/", headers, body)
end
