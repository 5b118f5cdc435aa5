-- Retry a dead item: it leaves the dead set and returns to the queue and place it was
-- claimed from, with its attempts counted from zero again (its history is kept, with a
-- 'retried' entry). KEYS and ARGV: WORK_DEAD_RETRY in jarvis/store/specs.py; the caller
-- read the queue from the dead record and passes it as KEYS 'queue'.
-- Returns 1 when retried, 0 when the item is not in the dead set (retrying twice is
-- harmless), an error when the record names another queue.
local K_DEAD, K_DEAD_AT, K_ATTEMPTS, K_HISTORY = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_HEADS, K_QUEUE, K_STATS = KEYS[5], KEYS[6], KEYS[7]
local id = ARGV[1]
local raw = redis.call('HGET', K_DEAD, id)
if not raw then
  return 0
end
local record = cjson.decode(raw)
if record.q ~= K_QUEUE then
  return redis.error_reply('QUEUE dead item ' .. id .. ' came from another queue')
end
redis.call('HDEL', K_DEAD, id)
redis.call('ZREM', K_DEAD_AT, id)
redis.call('HDEL', K_ATTEMPTS, id)
remember(K_HISTORY, id, {r = ARGV[2], why = 'retried'})
push(K_HEADS, K_QUEUE, record.s, id)
redis.call('HINCRBY', K_STATS, 'retried', 1)
return 1
