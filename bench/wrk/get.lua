-- GET paths read from a file, one a line, each thread starting at its own
-- offset and rotating through them. Arguments: token paths-file [think-ms
-- [run]] (think time is used by get_paced.lua; the run number seeds it).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

function init(args)
  local token = args[1]
  paths = {}
  for line in io.lines(args[2]) do
    paths[#paths + 1] = line
  end
  think = tonumber(args[3] or "0")
  index = (id * 7919) % #paths
  headers = { ["Authorization"] = "Bearer " .. token }
  math.randomseed(tonumber(args[4] or "0") * 100 + id + 1)
end

function request()
  sent = sent + 1
  index = index % #paths + 1
  return wrk.format("GET", paths[index], headers)
end
