-- Get-work: claim the best item among the heads of the candidate queues.
-- KEYS: 1 items, 2 claims, 3 leases, 4 work stats, 5.. candidate class queues
--       (bounded by the caller: at most max_queues)
-- ARGV: 1 associate id, 2 now, 3 lease expiry
-- Every item of a candidate queue is eligible for the associate, so only heads are
-- peeked (O(log n) each): the earliest score wins, ties go to the smaller id, as inside
-- one sorted set. Returns false when all are empty, else
-- {item id, item JSON, claim token, score}.
local best_i, best_id, best_score, best_text
for i = 5, #KEYS do
  local head = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  if head[1] then
    local score = tonumber(head[2])
    if best_id == nil or score < best_score or (score == best_score and head[1] < best_id) then
      best_i, best_id, best_score, best_text = i, head[1], score, head[2]
    end
  end
end
if not best_id then
  return false
end
redis.call('ZREM', KEYS[best_i], best_id)
local token = tostring(redis.call('HINCRBY', KEYS[4], 'claims', 1))
redis.call('HSET', KEYS[2], best_id,
  cjson.encode({a = ARGV[1], t = token, c = ARGV[2], q = KEYS[best_i], s = best_text}))
redis.call('ZADD', KEYS[3], ARGV[3], best_id)
return {best_id, redis.call('HGET', KEYS[1], best_id), token, best_text}
