-- Get-work: claim the best item among the heads of the candidate class queues.
-- KEYS and ARGV: WORK_GET in jarvis/store/specs.py; the KEYS tail is the associate's
-- candidate class queues (at most max_queues, by the caller).
-- Every item of a candidate queue is eligible for the associate, so only queue heads
-- matter. Usually one read does: the heads index lists the store's non-empty queues by
-- head score, and the first candidate in it holds the best item (ties between queues
-- go to the smaller queue key). Only the first `scan` entries are read; past the bound
-- (a store with more non-empty classes than that, none of the first eligible) each
-- candidate's head score is looked up instead: at most max_queues O(log n) reads, never
-- a walk through a queue. Each claim counts one attempt of its item (HASH attempts,
-- see work_lib.lua). The associate counts as present at the store (ZSET present, for
-- the ranking) when it asks at its home store (ARGV home '1') or claims here.
-- Returns false when nothing is eligible, else {item id, item JSON, claim token, score}.
local heads, scan = KEYS[5], tonumber(ARGV[4])
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[7], ARGV[2], ARGV[1])
end
local candidate = {}
for i = 8, #KEYS do
  candidate[KEYS[i]] = i
end
local queue
local first = redis.call('ZRANGE', heads, 0, scan - 1)
for _, q in ipairs(first) do
  if candidate[q] then
    queue = KEYS[candidate[q]]
    break
  end
end
if not queue and #first == scan then
  local best
  for i = 8, #KEYS do
    local s = redis.call('ZSCORE', heads, KEYS[i])
    if s then
      s = tonumber(s)
      if best == nil or s < best or (s == best and KEYS[i] < queue) then
        best, queue = s, KEYS[i]
      end
    end
  end
end
if not queue then
  return false
end
local popped = redis.call('ZPOPMIN', queue)
local id, score = popped[1], popped[2]
local after = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
if after[1] then
  redis.call('ZADD', heads, after[2], queue)
else
  redis.call('ZREM', heads, queue)
end
local token = tostring(redis.call('HINCRBY', KEYS[4], 'claims', 1))
redis.call('HSET', KEYS[2], id,
  cjson.encode({a = ARGV[1], t = token, c = ARGV[2], q = queue, s = score}))
redis.call('ZADD', KEYS[3], ARGV[3], id)
redis.call('HINCRBY', KEYS[6], id, 1)
if ARGV[5] ~= '1' then
  redis.call('ZADD', KEYS[7], ARGV[2], ARGV[1])
end
return {id, redis.call('HGET', KEYS[1], id), token, score}
