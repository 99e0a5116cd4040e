-- The table of a flat field-value reply (XINFO GROUPS and XINFO CONSUMERS give one per entry).
local function toFields(flat)
  local fields = {}
  for i = 1, #flat, 2 do fields[flat[i]] = flat[i + 1] end
  return fields
end
