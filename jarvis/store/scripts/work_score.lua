-- FENCED, the store owner's tick: the store's score for the remote ranking, i.e. its
-- prioritised open remotable load. Each queued remotable item counts 1, 2 if its
-- start-by falls before the urgent horizon, 4 if it is already past; one ZCARD and two
-- ZCOUNTs per non-empty queue, so the cost grows with the number of classes, not items.
-- It also forgets presence and completions older than ARGV forget_before (the ranking's
-- activity, see jarvis/store/work/ranking.py).
-- KEYS and ARGV: WORK_SCORE in jarvis/store/specs.py. The KEYS tail is every remotable
-- queue the caller found in the heads index; if the index now lists one more, returns
-- false (the caller reads again), else the score as a decimal string.
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end
local given = {}
for i = 6, #KEYS do
  given[KEYS[i]] = i
end
for _, member in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  if string.sub(member, -2) == '|r' and not given[member] then
    return false
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. ARGV[4])
local load = 0
for i = 6, #KEYS do
  local q = KEYS[i]
  load = load + redis.call('ZCARD', q) + redis.call('ZCOUNT', q, '-inf', ARGV[3])
    + 2 * redis.call('ZCOUNT', q, '-inf', ARGV[2])
end
return tostring(load)
