-- Complete a claimed item: only its holder, only while the lease holds.
-- KEYS: 1 items, 2 claims, 3 leases, 4 done, 5 work stats
-- ARGV: 1 item id, 2 associate id, 3 now, 4 claim token or ''
local id = ARGV[1]
local claim, err = held(KEYS[2], KEYS[3], id, ARGV[2], ARGV[4], ARGV[3])
if not claim then
  return redis.error_reply(err)
end
redis.call('HDEL', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
redis.call('HDEL', KEYS[1], id)
redis.call('ZADD', KEYS[4], ARGV[3], id)
redis.call('HINCRBY', KEYS[5], 'done', 1)
return 1
