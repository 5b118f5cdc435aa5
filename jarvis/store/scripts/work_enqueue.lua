-- Enqueue one work item, unless its id is already queued, claimed or recently done.
-- KEYS and ARGV: WORK_ENQUEUE in jarvis/store/specs.py.
-- Returns 1 if queued, 0 for a duplicate id.
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[1], id) == 1 or redis.call('ZSCORE', KEYS[2], id) then
  return 0
end
redis.call('HSET', KEYS[1], id, ARGV[2])
push(KEYS[4], KEYS[3], ARGV[3], id)
redis.call('HINCRBY', KEYS[5], 'submitted', 1)
return 1
