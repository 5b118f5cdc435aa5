-- FENCED, the store owner's tick: the store's score for the remote ranking, i.e. its
-- prioritised open remotable load. Each queued remotable item counts 1, 2 if its
-- start-by falls before the urgent horizon, 4 if it is already past; one ZCARD and two
-- ZCOUNTs per queue, so the cost grows with the number of queues, not of items.
-- Queues found empty are dropped from the queues set (a requeue or enqueue re-adds).
-- KEYS: 1 epoch, 2 partition stats, 3 queues
-- ARGV: 1 epoch, 2 now, 3 end of the urgent horizon
-- Returns the score as a decimal string.
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end
local load = 0
for _, q in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local n = redis.call('ZCARD', q)
  if n == 0 then
    redis.call('SREM', KEYS[3], q)
  elseif string.sub(q, -2) == '|r' then
    load = load + n + redis.call('ZCOUNT', q, '-inf', ARGV[3])
      + 2 * redis.call('ZCOUNT', q, '-inf', ARGV[2])
  end
end
return tostring(load)
