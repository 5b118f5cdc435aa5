-- Read-only: a store's stuck-work signals at `now`, for metrics and alerts.
-- KEYS and ARGV: WORK_SIGNALS in jarvis/store/specs.py. The KEYS tail is every queue the
-- caller found in the heads index; if the index now lists another, returns false (the
-- caller reads again).
-- Returns {seconds the most overdue queued item is past its start-by (text; 0 if none),
-- queued items past their start-by, claims past their expected duration (of at most
-- `scan` claims; -1 if there are more), dead-set size}.
local K_HEADS, K_CLAIMS, K_ITEMS, K_DEAD_AT = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, scan = tonumber(ARGV[1]), tonumber(ARGV[2])
local given = {}
for i = 5, #KEYS do
  given[KEYS[i]] = i
end
for _, q in ipairs(redis.call('ZRANGE', K_HEADS, 0, -1)) do
  if not given[q] then
    return false
  end
end
local overdue_s, late = 0, 0
local first = redis.call('ZRANGE', K_HEADS, 0, 0, 'WITHSCORES')
if first[1] and tonumber(first[2]) < now then
  overdue_s = now - tonumber(first[2])
end
for i = 5, #KEYS do
  late = late + redis.call('ZCOUNT', KEYS[i], '-inf', '(' .. ARGV[1])
end
local slow = -1
if redis.call('HLEN', K_CLAIMS) <= scan then
  slow = 0
  local claims = redis.call('HGETALL', K_CLAIMS)
  for i = 1, #claims, 2 do
    local claim = cjson.decode(claims[i + 1])
    local json = redis.call('HGET', K_ITEMS, claims[i])
    if json then
      local duration = cjson.decode(json).duration_s
      if type(duration) ~= 'number' then duration = 300 end
      if tonumber(claim.c) + duration < now then
        slow = slow + 1
      end
    end
  end
end
return {tostring(overdue_s), late, slow, redis.call('ZCARD', K_DEAD_AT)}
