-- What the two event-apply scripts (city_apply.lua, work_apply.lua) share: reading a
-- stream id's milliseconds, and dead-lettering an incoming entry with its raw event,
-- its reason and the writer's epoch.

local function stream_ms(id)
  return tonumber(string.match(id, '^(%d+)-'))
end

local function dead_letter_entry(k_in, k_dead, dead_maxlen, partition, epoch, sid, reason)
  local raw = ''
  local entry = redis.call('XRANGE', k_in, sid, sid)
  if entry[1] then
    local fields = entry[1][2]
    for i = 1, #fields, 2 do
      if fields[i] == 'event' then raw = fields[i + 1] end
    end
  end
  redis.call('XADD', k_dead, 'MAXLEN', '~', dead_maxlen, '*',
    'partition', partition, 'stream_id', sid, 'reason', reason, 'event', raw,
    'epoch', epoch)
end

-- A batch is one flat array of SLOTS values per entry (stream id, type, event id, a, b,
-- c, d), entry after entry: decoding it builds one table, not one per entry.
local SLOTS = 7

-- The set of the event ids of `batch` (the third slot of each entry) that k_applied
-- already holds: one ZMSCORE per 1,000 ids (the bound of unpack) instead of one ZSCORE each.
local function applied_ids(k_applied, batch)
  local seen, ids = {}, {}
  for n = 3, #batch, SLOTS do ids[#ids + 1] = batch[n] end
  for first = 1, #ids, 1000 do
    local last = math.min(first + 999, #ids)
    local scores = redis.call('ZMSCORE', k_applied, unpack(ids, first, last))
    for n = first, last do
      if scores[n - first + 1] then seen[ids[n]] = true end
    end
  end
  return seen
end

-- Run apply(), which applies a batch and appends (stream ms, event id) to `pending` for
-- each event it applies, then record those ids in k_applied (one ZADD per 1,000) whether
-- apply() failed part-way or not: as with one ZADD per event, a retry after a failed
-- script sees every event the failed run applied. Nil, or the failure as an error reply.
local function apply_recorded(apply, k_applied, pending)
  local ok, failure = pcall(apply)
  for first = 1, #pending, 2000 do
    redis.call('ZADD', k_applied, unpack(pending, first, math.min(first + 1999, #pending)))
  end
  if ok then return nil end
  if type(failure) == 'table' then return failure end  -- an error reply of redis.call
  return redis.error_reply(tostring(failure))
end

-- Add a batch's counts to the partition's stats hash (a field only when not zero).
local function count_batch(k_stats, applied, duplicates, dead)
  if applied > 0 then redis.call('HINCRBY', k_stats, 'applied', applied) end
  if duplicates > 0 then redis.call('HINCRBY', k_stats, 'duplicates', duplicates) end
  if dead > 0 then redis.call('HINCRBY', k_stats, 'dead_letters', dead) end
end

-- A batch failed part-way (`failed`: apply_recorded's error reply). With `done_sid`,
-- the stream id of the last entry done before the failing one, the entries up to it are
-- done (applied and recorded, or dead-lettered): they are counted and the cursor moves
-- past them, so a retry starts at the failing entry and neither counts nor dead-letters
-- an entry twice. Without it (the gathered writes failed), nothing moves: the retry
-- handles the whole batch again. Returns `failed`.
local function fail_part_way(failed, done_sid, k_cursor, k_stats, applied, duplicates, dead)
  if done_sid then
    count_batch(k_stats, applied, duplicates, dead)
    redis.call('SET', k_cursor, done_sid)
  end
  return failed
end
