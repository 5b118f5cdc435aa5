-- Read-only: the measured parts of a store's need for help (jarvis/store/work/ranking.py).
-- KEYS and ARGV: WORK_NEED in jarvis/store/specs.py. The KEYS tail is every queue the
-- caller found in the heads index; if the index now lists another, returns false (the
-- caller reads again).
-- Returns {work (each queued item counts 1, 2 if its start-by falls before
-- urgent_until, 4 if it is before now: priority brings start-by forward), queued items,
-- of them remotable, associates present since present_since, completions since
-- completions_since, seconds the oldest queued item is past its start-by (text; 0 if
-- none)}.
local K_HEADS, K_PRESENT, K_COMPLETIONS = KEYS[1], KEYS[2], KEYS[3]
local given = {}
for i = 4, #KEYS do
  given[KEYS[i]] = i
end
for _, q in ipairs(redis.call('ZRANGE', K_HEADS, 0, -1)) do
  if not given[q] then
    return false
  end
end
local work, queued, remotable = 0, 0, 0
for i = 4, #KEYS do
  local queue = KEYS[i]
  local n = redis.call('ZCARD', queue)
  queued = queued + n
  if string.sub(queue, -2) == '|r' then remotable = remotable + n end
  work = work + n + redis.call('ZCOUNT', queue, '-inf', ARGV[1])
    + 2 * redis.call('ZCOUNT', queue, '-inf', '(' .. ARGV[2])
end
local overdue_s = 0
local first = redis.call('ZRANGE', K_HEADS, 0, 0, 'WITHSCORES')
if first[1] and tonumber(first[2]) < tonumber(ARGV[2]) then
  overdue_s = tonumber(ARGV[2]) - tonumber(first[2])
end
return {work, queued, remotable, redis.call('ZCOUNT', K_PRESENT, ARGV[3], '+inf'),
  redis.call('ZCOUNT', K_COMPLETIONS, ARGV[4], '+inf'), tostring(overdue_s)}
