-- Commit one tick's assignments of a city, atomically and fenced: all or nothing.
--
-- KEYS and ARGV: CITY_COMMIT in jarvis/store/specs.py.
-- Every pair is checked first (order still open and unassigned, courier online with a
-- free slot counting the earlier pairs of this commit). If any check fails nothing
-- changes but the 'conflicts' counter and {0, reason, ...} is returned. Otherwise all
-- are applied, each gets an 'assignment' entry on the out stream, then one 'tick'
-- marker closes the tick, and {1, marker id} is returned. An empty commit only records
-- the tick.
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end

local K_STATS, K_STATUS, K_OPEN, K_ASSIGN = KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local K_CAP, K_LOAD, K_HELD, K_ONLINE, K_OUT = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local epoch, tick, now, partition, maxlen = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

-- Redis calls in chunks (unpack has a stack limit): one HMGET/HSET for many fields.
local CHUNK = 1000
local function call_chunked(cmd, key, items, width)
  local out = {}
  for first = 1, #items, CHUNK * width do
    local last = math.min(first + CHUNK * width - 1, #items)
    local reply = redis.call(cmd, key, unpack(items, first, last))
    if type(reply) == 'table' then
      for _, v in ipairs(reply) do out[#out + 1] = v end
    end
  end
  return out
end

local orders, couriers = {}, {}
for i = 6, #ARGV, 2 do
  orders[#orders + 1] = ARGV[i]
  couriers[#couriers + 1] = ARGV[i + 1]
end
local statuses = {}
local capacities, loads = {}, {}
if #orders > 0 then
  statuses = call_chunked('HMGET', K_STATUS, orders, 1)
  capacities = call_chunked('HMGET', K_CAP, couriers, 1)
  loads = call_chunked('HMGET', K_LOAD, couriers, 1)
end

local reasons = {}
local taken = {}
local pending = {}
for n = 1, #orders do
  local order, courier, status = orders[n], couriers[n], statuses[n]
  if taken[order] then
    reasons[#reasons + 1] = 'order ' .. order .. ' appears twice in the commit'
  elseif not status then
    reasons[#reasons + 1] = 'order ' .. order .. ' is unknown'
  elseif status ~= 'open' then
    reasons[#reasons + 1] = 'order ' .. order .. ' is no longer open (' .. status .. ')'
  end
  taken[order] = true
  local capacity = tonumber(capacities[n])
  if not capacity then
    reasons[#reasons + 1] = 'courier ' .. courier .. ' is unknown'
  elseif pending[courier] == nil and redis.call('SISMEMBER', K_ONLINE, courier) == 0 then
    reasons[#reasons + 1] = 'courier ' .. courier .. ' is offline'
  else
    local load = tonumber(loads[n] or '0') + (pending[courier] or 0)
    if load >= capacity then
      reasons[#reasons + 1] = 'courier ' .. courier .. ' is full (' .. load .. '/' .. capacity .. ')'
    end
  end
  pending[courier] = (pending[courier] or 0) + 1
end

if #reasons > 0 then
  redis.call('HINCRBY', K_STATS, 'conflicts', 1)
  table.insert(reasons, 1, 0)
  return reasons
end

local count = #orders
if count > 0 then
  local status_pairs, assign_pairs = {}, {}
  for n = 1, count do
    status_pairs[#status_pairs + 1] = orders[n]
    status_pairs[#status_pairs + 1] = 'assigned'
    assign_pairs[#assign_pairs + 1] = orders[n]
    assign_pairs[#assign_pairs + 1] = couriers[n]
  end
  call_chunked('HSET', K_STATUS, status_pairs, 2)
  call_chunked('HSET', K_ASSIGN, assign_pairs, 2)
  call_chunked('ZREM', K_OPEN, orders, 1)
  for courier, added in pairs(pending) do
    redis.call('HINCRBY', K_LOAD, courier, added)
  end
  local added_orders = {}
  for n = 1, count do
    local list = added_orders[couriers[n]]
    if not list then
      list = {}
      added_orders[couriers[n]] = list
    end
    list[#list + 1] = orders[n]
  end
  for courier, list in pairs(added_orders) do
    local held = redis.call('HGET', K_HELD, courier)
    local joined = table.concat(list, ' ')
    redis.call('HSET', K_HELD, courier, held and (held .. ' ' .. joined) or joined)
  end
  for n = 1, count do
    redis.call('XADD', K_OUT, '*', 'type', 'assignment',
      'partition', partition, 'epoch', epoch, 'tick', tick, 'task', orders[n],
      'worker', couriers[n], 'at', now)
  end
end
-- One trim per tick (with the marker) instead of one per entry.
local marker = redis.call('XADD', K_OUT, 'MAXLEN', '~', maxlen, '*', 'type', 'tick',
  'partition', partition, 'epoch', epoch, 'tick', tick, 'assignments', count, 'at', now)
redis.call('HSET', K_STATS, 'last_tick_at', now, 'tick', tick, 'last_epoch', epoch)
redis.call('HINCRBY', K_STATS, 'commits', 1)
redis.call('HINCRBY', K_STATS, 'assigned', count)
return {1, marker}
