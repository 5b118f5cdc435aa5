-- FENCED, the store owner's tick: mark the store as in batch mode for a while, or not.
-- KEYS and ARGV: WORK_BATCH_MODE in jarvis/store/specs.py. ARGV 'on' is 1 or 0; the
-- mark expires after ttl_ms, so a store whose owner is gone falls back by itself.
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end
if ARGV[2] == '1' then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[3])
end
return 1
