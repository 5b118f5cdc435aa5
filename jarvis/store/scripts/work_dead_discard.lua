-- Discard a dead item for good: it leaves the dead set and the store; its id is kept
-- with the completed ones for the retention (so a replayed submission is not queued
-- again). KEYS and ARGV: WORK_DEAD_DISCARD in jarvis/store/specs.py.
-- Returns 1 when discarded, 0 when the item is not in the dead set.
local K_ITEMS, K_DEAD, K_DEAD_AT, K_ATTEMPTS = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_HISTORY, K_DONE, K_STATS = KEYS[5], KEYS[6], KEYS[7]
local id = ARGV[1]
if redis.call('HEXISTS', K_DEAD, id) == 0 then
  return 0
end
redis.call('HDEL', K_ITEMS, id)
redis.call('HDEL', K_DEAD, id)
redis.call('ZREM', K_DEAD_AT, id)
redis.call('HDEL', K_ATTEMPTS, id)
redis.call('HDEL', K_HISTORY, id)
redis.call('ZADD', K_DONE, ARGV[2], id)
redis.call('HINCRBY', K_STATS, 'discarded', 1)
return 1
