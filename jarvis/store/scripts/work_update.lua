-- Update a work item in place (priority, due time, duration): its JSON, and its score
-- wherever the score lives: in its queue (the head index follows), in its claim record
-- (a released or lapsed claim returns it at the new place) or in its dead record.
-- KEYS and ARGV: WORK_UPDATE in jarvis/store/specs.py. KEYS 'queue' is the queue of the
-- item's class. Compare-and-set: writes only if the item's JSON is still `old_json`.
-- Returns 1 queued, 2 claimed, 3 dead, 0 unknown (never, done or cancelled), -1 changed
-- meanwhile (nothing written; the caller reads again).
local K_ITEMS, K_CLAIMS, K_HEADS, K_QUEUE, K_DEAD = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, score = ARGV[1], ARGV[4]
local current = redis.call('HGET', K_ITEMS, id)
if not current then
  return 0
end
if current ~= ARGV[2] then
  return -1
end
redis.call('HSET', K_ITEMS, id, ARGV[3])
if redis.call('ZSCORE', K_QUEUE, id) then
  redis.call('ZADD', K_QUEUE, score, id)
  local first = redis.call('ZRANGE', K_QUEUE, 0, 0, 'WITHSCORES')
  redis.call('ZADD', K_HEADS, first[2], K_QUEUE)
  return 1
end
local raw = redis.call('HGET', K_CLAIMS, id)
if raw then
  local claim = cjson.decode(raw)
  claim.s = score
  redis.call('HSET', K_CLAIMS, id, cjson.encode(claim))
  return 2
end
raw = redis.call('HGET', K_DEAD, id)
if raw then
  local record = cjson.decode(raw)
  record.s = score
  redis.call('HSET', K_DEAD, id, cjson.encode(record))
  return 3
end
return 1
