-- FENCED, the store owner's tick: return lapsed claims to their queues (or, for an item
-- that used up its attempts, to the dead set: came_back in work_lib.lua), and forget
-- completed ids older than the retention.
-- KEYS and ARGV: WORK_REAP in jarvis/store/specs.py. The caller read the lapsed item ids
-- (ARGV tail) and the queues their claims name (KEYS tail); each is checked again here.
-- A lease lapses when its expiry <= now (the same test held() applies), and the claim is
-- deleted in the same script that requeues it: each lapse returns its item exactly once.
-- An item whose claim names a queue the caller did not pass is left for the next reap.
-- Returns the number of lapsed claims taken back (requeued or gone to the dead set).
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end
local K_CLAIMS, K_LEASES, K_HEADS, K_STATS, K_DONE = KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local K_ITEMS, K_ATTEMPTS, K_HISTORY = KEYS[8], KEYS[9], KEYS[10]
local K_DEAD, K_DEAD_AT = KEYS[11], KEYS[12]
local now, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local queues = {}
for i = 13, #KEYS do
  queues[KEYS[i]] = i
end
local n = 0
for i = 6, #ARGV do
  local id = ARGV[i]
  local expires = redis.call('ZSCORE', K_LEASES, id)
  if expires and tonumber(expires) <= now then
    local raw = redis.call('HGET', K_CLAIMS, id)
    if not raw then
      redis.call('ZREM', K_LEASES, id)
    else
      local claim = cjson.decode(raw)
      local at = queues[claim.q]
      if at and claim.q == KEYS[at] then
        if not came_back(K_ITEMS, K_ATTEMPTS, K_HISTORY, K_DEAD, K_DEAD_AT, K_STATS, id, claim,
            'lapsed', ARGV[2], ARGV[5]) then
          requeue(K_HEADS, KEYS[at], claim, id)
        end
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
