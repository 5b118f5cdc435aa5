-- FENCED, the store owner's tick: return lapsed claims to their queues, and forget
-- completed ids older than the retention.
-- KEYS and ARGV: WORK_REAP in jarvis/store/specs.py. The caller read the lapsed item ids
-- (ARGV tail) and the queues their claims name (KEYS tail); each is checked again here.
-- A lease lapses when its expiry <= now (the same test held() applies), and the claim is
-- deleted in the same script that requeues it: each lapse returns its item exactly once.
-- An item whose claim names a queue the caller did not pass is left for the next reap.
-- Returns the number of items returned to their queues.
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end
local K_CLAIMS, K_LEASES, K_HEADS, K_STATS, K_DONE = KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local now, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local queues = {}
for i = 8, #KEYS do
  queues[KEYS[i]] = i
end
local n = 0
for i = 5, #ARGV do
  local id = ARGV[i]
  local expires = redis.call('ZSCORE', K_LEASES, id)
  if expires and tonumber(expires) <= now then
    local raw = redis.call('HGET', K_CLAIMS, id)
    if not raw then
      redis.call('ZREM', K_LEASES, id)
    else
      local claim = cjson.decode(raw)
      local at = queues[claim.q]
      if at and requeue(K_HEADS, KEYS[at], claim, id) then
        redis.call('HDEL', K_CLAIMS, id)
        redis.call('ZREM', K_LEASES, id)
        n = n + 1
      end
    end
  end
end
if n > 0 then
  redis.call('HINCRBY', K_STATS, 'lapsed', n)
end
local old = redis.call('ZRANGEBYSCORE', K_DONE, '-inf', '(' .. ARGV[4], 'LIMIT', 0, limit)
if #old > 0 then
  redis.call('ZREM', K_DONE, unpack(old))
end
return n
