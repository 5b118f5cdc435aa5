-- Read-only: one consistent snapshot of a store's work counts.
-- KEYS: 1 heads, 2 claims, 3 work stats
-- Returns {queued, claimed, done, submitted, queued remotable, lapsed, released}.
local queued, remotable = 0, 0
for _, q in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local n = redis.call('ZCARD', q)
  queued = queued + n
  if string.sub(q, -2) == '|r' then
    remotable = remotable + n
  end
end
local stats = redis.call('HMGET', KEYS[3], 'done', 'submitted', 'lapsed', 'released')
return {queued, redis.call('HLEN', KEYS[2]), tonumber(stats[1] or 0), tonumber(stats[2] or 0),
  remotable, tonumber(stats[3] or 0), tonumber(stats[4] or 0)}
