-- Re-submit a corrected event for a dead-letter entry: append it to the partition's
-- incoming stream and mark the entry as re-submitted, atomically and once.
-- KEYS and ARGV: DEAD_LETTER_RESUBMIT in jarvis/store/specs.py. The caller validated
-- the event (ARGV event_json, id ARGV event_id) for this partition.
-- Returns {1, record} when re-submitted now, {2, record} when the entry was re-submitted
-- already (nothing written), {0} when the dead-letter stream has no such entry. The
-- record is JSON {stream_id, event_id, at}. Marks of entries the stream no longer holds
-- (trimmed) are forgotten once there are more than ARGV keep of them.
local K_DEAD, K_DONE, K_IN = KEYS[1], KEYS[2], KEYS[3]
local dead_id = ARGV[1]
local record = redis.call('HGET', K_DONE, dead_id)
if record then
  return {2, record}
end
if not redis.call('XRANGE', K_DEAD, dead_id, dead_id)[1] then
  return {0}
end
local stream_id = redis.call('XADD', K_IN, '*', 'event', ARGV[3])
record = cjson.encode({stream_id = stream_id, event_id = ARGV[2], at = tonumber(ARGV[4])})
redis.call('HSET', K_DONE, dead_id, record)

if redis.call('HLEN', K_DONE) > tonumber(ARGV[5]) then
  local first = redis.call('XRANGE', K_DEAD, '-', '+', 'COUNT', 1)[1]
  local function parts(id)
    local ms, seq = string.match(id, '^(%d+)-(%d+)$')
    return tonumber(ms), tonumber(seq)
  end
  local first_ms, first_seq = parts(first and first[1] or dead_id)
  for _, id in ipairs(redis.call('HKEYS', K_DONE)) do
    local ms, seq = parts(id)
    if ms < first_ms or (ms == first_ms and seq < first_seq) then
      redis.call('HDEL', K_DONE, id)
    end
  end
end
return {1, record}
