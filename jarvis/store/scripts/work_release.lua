-- Give a claimed item back: it returns to its queue at its old place.
-- KEYS and ARGV: WORK_RELEASE in jarvis/store/specs.py.
local K_CLAIMS, K_LEASES, K_HEADS, K_QUEUE, K_STATS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id = ARGV[1]
local claim, err = held(K_CLAIMS, K_LEASES, id, ARGV[2], ARGV[4], ARGV[3])
if not claim then
  return redis.error_reply(err)
end
if not requeue(K_HEADS, K_QUEUE, claim, id) then
  return redis.error_reply('QUEUE item ' .. id .. ' was claimed from another queue')
end
redis.call('HDEL', K_CLAIMS, id)
redis.call('ZREM', K_LEASES, id)
redis.call('HINCRBY', K_STATS, 'released', 1)
return 1
