-- FENCED, the store owner's tick, first step: when nothing needs the full tick, record
-- the tick and stop there (one round trip for an idle store).
-- KEYS and ARGV: WORK_IDLE in jarvis/store/specs.py.
-- The full tick (reap, apply, score, signals; jarvis/actors/store.py) is needed when any
-- of these holds, checked in this order: an incoming entry past the cursor; a queued
-- item (the heads index exists: scores and overdue signals move with time); a claim or
-- a lease (one may lapse, or overrun its expected duration); a completed id older than
-- forget_before (the reap forgets it). Then nothing is written but the fencing epoch,
-- and {0, reason} is returned. Otherwise the tick is marked (mark_idle_tick, idle_lib.lua)
-- and {1, marker id, dead-set size} is returned.
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end
local K_STATS, K_CURSOR, K_IN, K_HEADS, K_CLAIMS = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local K_LEASES, K_DONE, K_DEAD_AT, K_OUT = KEYS[7], KEYS[8], KEYS[9], KEYS[10]

if events_waiting(K_IN, redis.call('GET', K_CURSOR) or '') then
  return {0, 'events'}
end
if redis.call('EXISTS', K_HEADS) == 1 then
  return {0, 'queued'}
end
if redis.call('EXISTS', K_CLAIMS) == 1 or redis.call('EXISTS', K_LEASES) == 1 then
  return {0, 'claimed'}
end
if #redis.call('ZRANGEBYSCORE', K_DONE, '-inf', '(' .. ARGV[4], 'LIMIT', 0, 1) > 0 then
  return {0, 'done to forget'}
end
local marker = mark_idle_tick(K_STATS, K_OUT, ARGV[5], ARGV[1], ARGV[2], ARGV[3], ARGV[6])
return {1, marker, redis.call('ZCARD', K_DEAD_AT)}
