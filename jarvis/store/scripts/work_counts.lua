-- Read-only: one consistent snapshot of a store's work counts.
-- KEYS and ARGV: WORK_COUNTS in jarvis/store/specs.py. The KEYS tail is every queue the
-- caller found in the heads index; if the index now lists another, returns false (the
-- caller reads again).
-- Returns {queued, claimed, done, submitted, queued remotable, lapsed, released, dead,
-- discarded, cancelled}.
local given = {}
for i = 5, #KEYS do
  given[KEYS[i]] = i
end
for _, q in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not given[q] then
    return false
  end
end
local queued, remotable = 0, 0
for i = 5, #KEYS do
  local n = redis.call('ZCARD', KEYS[i])
  queued = queued + n
  if string.sub(KEYS[i], -2) == '|r' then
    remotable = remotable + n
  end
end
local stats = redis.call('HMGET', KEYS[3], 'done', 'submitted', 'lapsed', 'released',
  'discarded', 'cancelled')
return {queued, redis.call('HLEN', KEYS[2]), tonumber(stats[1] or 0), tonumber(stats[2] or 0),
  remotable, tonumber(stats[3] or 0), tonumber(stats[4] or 0), redis.call('ZCARD', KEYS[4]),
  tonumber(stats[5] or 0), tonumber(stats[6] or 0)}
