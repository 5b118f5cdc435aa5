-- Cancel a work item, queued, claimed or dead (cancel in work_lib.lua), and forget
-- cancellations older than the retention.
-- KEYS and ARGV: WORK_CANCEL in jarvis/store/specs.py. KEYS 'queue' is the queue of the
-- item's class (the caller read its JSON). Returns what cancel returns.
local K_CANCELLED = KEYS[11]
local done = cancel(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8],
  KEYS[9], KEYS[10], K_CANCELLED, KEYS[12], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', K_CANCELLED, '-inf', '(' .. ARGV[3])
return done
