-- Extend a held claim's lease.
-- KEYS: 1 claims, 2 leases
-- ARGV: 1 item id, 2 associate id, 3 now, 4 claim token or '', 5 new expiry
local id = ARGV[1]
local claim, err = held(KEYS[1], KEYS[2], id, ARGV[2], ARGV[4], ARGV[3])
if not claim then
  return redis.error_reply(err)
end
redis.call('ZADD', KEYS[2], 'XX', ARGV[5], id)
return ARGV[5]
