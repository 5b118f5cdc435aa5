-- Commit one tick's assignments of a city, atomically and fenced: all or nothing.
--
-- KEYS: 1 epoch, 2 stats, 3 order_status, 4 open, 5 assignments, 6 courier_capacity,
--       7 courier_load, 8 courier_orders, 9 online, 10 out
-- ARGV: 1 epoch, 2 tick, 3 now (unix seconds), 4 partition, 5 out max length,
--       then pairs: order id, courier id.
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

local reasons = {}
local taken = {}
local pending = {}
for i = 6, #ARGV, 2 do
  local order, courier = ARGV[i], ARGV[i + 1]
  local status = redis.call('HGET', K_STATUS, order)
  if taken[order] then
    reasons[#reasons + 1] = 'order ' .. order .. ' appears twice in the commit'
  elseif not status then
    reasons[#reasons + 1] = 'order ' .. order .. ' is unknown'
  elseif status ~= 'open' then
    reasons[#reasons + 1] = 'order ' .. order .. ' is no longer open (' .. status .. ')'
  end
  taken[order] = true
  local capacity = tonumber(redis.call('HGET', K_CAP, courier))
  if not capacity then
    reasons[#reasons + 1] = 'courier ' .. courier .. ' is unknown'
  elseif redis.call('SISMEMBER', K_ONLINE, courier) == 0 then
    reasons[#reasons + 1] = 'courier ' .. courier .. ' is offline'
  else
    local load = tonumber(redis.call('HGET', K_LOAD, courier) or '0') + (pending[courier] or 0)
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

local count = 0
for i = 6, #ARGV, 2 do
  local order, courier = ARGV[i], ARGV[i + 1]
  redis.call('HSET', K_STATUS, order, 'assigned')
  redis.call('ZREM', K_OPEN, order)
  redis.call('HSET', K_ASSIGN, order, courier)
  redis.call('HINCRBY', K_LOAD, courier, 1)
  held_add(K_HELD, courier, order)
  redis.call('XADD', K_OUT, 'MAXLEN', '~', maxlen, '*', 'type', 'assignment',
    'partition', partition, 'epoch', epoch, 'tick', tick, 'task', order, 'worker', courier,
    'at', now)
  count = count + 1
end
local marker = redis.call('XADD', K_OUT, 'MAXLEN', '~', maxlen, '*', 'type', 'tick',
  'partition', partition, 'epoch', epoch, 'tick', tick, 'assignments', count, 'at', now)
redis.call('HSET', K_STATS, 'last_tick_at', now, 'tick', tick, 'last_epoch', epoch)
redis.call('HINCRBY', K_STATS, 'commits', 1)
redis.call('HINCRBY', K_STATS, 'assigned', count)
return {1, marker}
