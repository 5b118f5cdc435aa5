-- City helpers shared by city_apply.lua and city_commit.lua (loaded in front of them).
-- courier_orders is a hash: courier id -> space-separated ids of the orders it holds
-- (assigned or picked up, not yet delivered). Capacity is at most 20, so lists are short.

local function held_list(hash, courier)
  local held = {}
  local value = redis.call('HGET', hash, courier)
  if value then
    for order in string.gmatch(value, '%S+') do held[#held + 1] = order end
  end
  return held
end

local function held_remove(hash, courier, order)
  local kept = {}
  for _, held in ipairs(held_list(hash, courier)) do
    if held ~= order then kept[#kept + 1] = held end
  end
  if #kept == 0 then
    redis.call('HDEL', hash, courier)
  else
    redis.call('HSET', hash, courier, table.concat(kept, ' '))
  end
end
