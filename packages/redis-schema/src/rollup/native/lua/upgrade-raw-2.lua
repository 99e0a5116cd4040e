--[[
  Gives a series kept in the sorted set of releases before raw-stream.lua the stream layout, for
  readers that meet one before any write has. A series in the stream layout is left as it is.
  KEYS[1]: the raw key
  KEYS[2]: the late set
]]
--@include raw-stream
newestTime(KEYS[1], KEYS[2])
return 0
