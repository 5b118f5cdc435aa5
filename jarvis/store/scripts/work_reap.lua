-- FENCED, the store owner's tick: return lapsed claims to their queues, and forget
-- completed ids older than the retention.
-- KEYS: 1 epoch, 2 partition stats, 3 claims, 4 leases, 5 heads, 6 work stats, 7 done
-- ARGV: 1 epoch, 2 now, 3 limit (per call), 4 forget done ids completed before this
-- A lease lapses when its expiry <= now (the same test held() applies), and the claim is
-- deleted in the same script that requeues it: each lapse returns its item exactly once.
-- Returns the number of items returned to their queues (at most limit).
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end
local limit = tonumber(ARGV[3])
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[2], 'LIMIT', 0, limit)
local n = 0
for _, id in ipairs(lapsed) do
  local raw = redis.call('HGET', KEYS[3], id)
  if raw then
    requeue(KEYS[5], cjson.decode(raw), id)
    redis.call('HDEL', KEYS[3], id)
    n = n + 1
  end
  redis.call('ZREM', KEYS[4], id)
end
if n > 0 then
  redis.call('HINCRBY', KEYS[6], 'lapsed', n)
end
local old = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', '(' .. ARGV[4], 'LIMIT', 0, limit)
if #old > 0 then
  redis.call('ZREM', KEYS[7], unpack(old))
end
return n
