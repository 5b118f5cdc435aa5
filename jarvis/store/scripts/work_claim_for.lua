-- FENCED, the store owner's batch decision: claim one SPECIFIC queued item for one
-- SPECIFIC waiting request, and hand the claim to that request.
-- KEYS and ARGV: WORK_CLAIM_FOR in jarvis/store/specs.py.
-- Refuses, writing nothing, when the request no longer waits (0) or the item is no
-- longer in that queue (-1): someone else's get-work may have taken it since the
-- owner read the queue. Otherwise the item moves from its queue to claims + leases
-- exactly as get-work moves it, the request leaves the waiting set, and the claim is
-- pushed on its reply list, all in this one script. Returns the claim token (text).
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end
local id, member, now = ARGV[2], ARGV[4], ARGV[5]
local until_at = redis.call('ZSCORE', KEYS[9], member)
if (not until_at) or tonumber(until_at) <= tonumber(now) then
  return 0
end
local queue = KEYS[8]
local score = redis.call('ZSCORE', queue, id)
if not score then
  return -1
end
redis.call('ZREM', queue, id)
local after = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
if after[1] then
  redis.call('ZADD', KEYS[7], after[2], queue)
else
  redis.call('ZREM', KEYS[7], queue)
end
local token = tostring(redis.call('HINCRBY', KEYS[6], 'claims', 1))
redis.call('HINCRBY', KEYS[6], 'batch_claims', 1)
redis.call('HSET', KEYS[4], id, cjson.encode({a = ARGV[3], t = token, c = now, q = queue, s = score}))
redis.call('ZADD', KEYS[5], ARGV[6], id)
redis.call('HINCRBY', KEYS[11], id, 1)
redis.call('ZREM', KEYS[9], member)
redis.call('RPUSH', KEYS[10], cjson.encode(
  {i = id, t = token, s = score, c = now, e = ARGV[6], w = redis.call('HGET', KEYS[3], id)}))
redis.call('EXPIRE', KEYS[10], ARGV[7])
return token
