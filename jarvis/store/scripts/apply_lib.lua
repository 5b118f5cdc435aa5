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
