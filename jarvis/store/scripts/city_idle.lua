-- FENCED, the city owner's tick, first step: when nothing needs the full tick, record
-- the tick and stop there (one round trip for an idle city).
-- KEYS and ARGV: CITY_IDLE in jarvis/store/specs.py.
-- The full tick (apply, snapshot, solve, commit; jarvis/actors/city.py) is needed when
-- an incoming entry lies past the cursor, an open order waits for a courier, or an
-- offer (acceptance mode) is due to expire at ARGV[3] (its owner's clock). Then
-- nothing is written but the fencing epoch, and {0, reason} is returned. Otherwise the
-- tick is marked (mark_idle_tick, idle_lib.lua) and {1, marker id} is returned.
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end
local K_STATS, K_CURSOR, K_IN, K_OPEN, K_OUT = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local K_OFFERS = KEYS[7]

if events_waiting(K_IN, redis.call('GET', K_CURSOR) or '') then
  return {0, 'events'}
end
if redis.call('EXISTS', K_OPEN) == 1 then
  return {0, 'open orders'}
end
if #redis.call('ZRANGEBYSCORE', K_OFFERS, '-inf', tonumber(ARGV[3]) * 1000, 'LIMIT', 0, 1) > 0 then
  return {0, 'offers due'}
end
return {1, mark_idle_tick(K_STATS, K_OUT, ARGV[4], ARGV[1], ARGV[2], ARGV[3], ARGV[5])}
