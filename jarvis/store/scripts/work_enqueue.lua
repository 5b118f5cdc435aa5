-- Enqueue one work item, unless its id is already queued, claimed or recently done.
-- KEYS: 1 items, 2 done, 3 the item's class queue, 4 heads, 5 work stats
-- ARGV: 1 item id, 2 item JSON, 3 score (start-by)
-- Returns 1 if queued, 0 for a duplicate id.
local id = ARGV[1]
if redis.call('HEXISTS', KEYS[1], id) == 1 or redis.call('ZSCORE', KEYS[2], id) then
  return 0
end
redis.call('HSET', KEYS[1], id, ARGV[2])
push(KEYS[4], KEYS[3], ARGV[3], id)
redis.call('HINCRBY', KEYS[5], 'submitted', 1)
return 1
