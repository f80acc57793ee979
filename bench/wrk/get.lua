-- GET paths read from a file, one a line, each thread starting at its own
-- offset and rotating through them. Arguments: token paths-file [think-ms]
-- (think time is used by get_paced.lua)
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
  math.randomseed(id + 1)
end

function request()
  index = index % #paths + 1
  return wrk.format("GET", paths[index], headers)
end
