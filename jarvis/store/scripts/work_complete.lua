-- Complete a claimed item: only its holder, only while the lease holds. The completion
-- joins ZSET completions (the store's throughput, for the ranking).
-- KEYS and ARGV: WORK_COMPLETE in jarvis/store/specs.py.
local id = ARGV[1]
local claim, err = held(KEYS[2], KEYS[3], KEYS[8], id, ARGV[2], ARGV[4], ARGV[3])
if not claim then
  return redis.error_reply(err)
end
redis.call('HDEL', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
redis.call('HDEL', KEYS[1], id)
redis.call('ZADD', KEYS[4], ARGV[3], id)
redis.call('HDEL', KEYS[6], id)
redis.call('HDEL', KEYS[7], id)
redis.call('HINCRBY', KEYS[5], 'done', 1)
redis.call('ZADD', KEYS[9], ARGV[3], id)
return 1
