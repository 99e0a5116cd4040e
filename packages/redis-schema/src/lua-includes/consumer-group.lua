--@include fields

-- XINFO GROUPS' fields of `group` on `stream` (pending, lag, last-delivered-id, ...), or nil when
-- the stream or the group does not exist.
local function consumerGroup(stream, group)
  local found, groups = pcall(redis.call, 'XINFO', 'GROUPS', stream)
  if not found then return nil end
  for _, info in ipairs(groups) do
    local fields = toFields(info)
    if fields['name'] == group then return fields end
  end
  return nil
end
