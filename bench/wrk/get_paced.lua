-- get.lua with think time: every client waits a random time (exponential,
-- mean think-ms) before each request, so 100 clients offer a steady load
-- instead of saturating the server. Arguments: token paths-file think-ms run
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "get.lua")

function delay()
  return math.floor(-think * math.log(1 - math.random()))
end
