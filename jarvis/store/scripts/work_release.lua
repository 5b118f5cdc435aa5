-- Give a claimed item back: it returns to its queue at its old place, unless it has used
-- up its attempts, when it goes to the dead set (see came_back in work_lib.lua).
-- KEYS and ARGV: WORK_RELEASE in jarvis/store/specs.py.
-- Returns 1 when requeued, 2 when it went to the dead set.
local K_CLAIMS, K_LEASES, K_HEADS, K_QUEUE, K_STATS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local K_ITEMS, K_ATTEMPTS, K_HISTORY, K_DEAD, K_DEAD_AT = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local id = ARGV[1]
local claim, err = held(K_CLAIMS, K_LEASES, KEYS[11], id, ARGV[2], ARGV[4], ARGV[3])
if not claim then
  return redis.error_reply(err)
end
if claim.q ~= K_QUEUE then
  return redis.error_reply('QUEUE item ' .. id .. ' was claimed from another queue')
end
local dead = came_back(K_ITEMS, K_ATTEMPTS, K_HISTORY, K_DEAD, K_DEAD_AT, K_STATS, id, claim,
  'released', ARGV[3], ARGV[5])
if not dead then
  requeue(K_HEADS, K_QUEUE, claim, id)
end
redis.call('HDEL', K_CLAIMS, id)
redis.call('ZREM', K_LEASES, id)
redis.call('HINCRBY', K_STATS, 'released', 1)
if dead then return 2 end
return 1
