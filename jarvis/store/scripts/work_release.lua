-- Give a claimed item back: it returns to its queue at its old place.
-- KEYS: 1 claims, 2 leases, 3 heads, 4 work stats
-- ARGV: 1 item id, 2 associate id, 3 now, 4 claim token or ''
local id = ARGV[1]
local claim, err = held(KEYS[1], KEYS[2], id, ARGV[2], ARGV[4], ARGV[3])
if not claim then
  return redis.error_reply(err)
end
redis.call('HDEL', KEYS[1], id)
redis.call('ZREM', KEYS[2], id)
requeue(KEYS[3], claim, id)
redis.call('HINCRBY', KEYS[4], 'released', 1)
return 1
