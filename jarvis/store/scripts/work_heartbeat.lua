-- Extend a held claim's lease; its holder counts as present at the store (ranking).
-- KEYS and ARGV: WORK_HEARTBEAT in jarvis/store/specs.py.
local id = ARGV[1]
local claim, err = held(KEYS[1], KEYS[2], KEYS[3], id, ARGV[2], ARGV[4], ARGV[3])
if not claim then
  return redis.error_reply(err)
end
redis.call('ZADD', KEYS[2], 'XX', ARGV[5], id)
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
return ARGV[5]
