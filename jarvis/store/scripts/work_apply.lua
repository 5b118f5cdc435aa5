-- FENCED, the store owner's tick: apply a batch of validated entries of a store's
-- incoming stream, atomically, with a compare-and-set cursor (like city_apply.lua).
-- KEYS and ARGV: WORK_APPLY in jarvis/store/specs.py. ARGV[9] is the batch, one flat
-- JSON array of 7 slots per entry, entry after entry: stream id, type, event id, a, b,
-- c, d (decoded once here into one table, SLOTS in apply_lib.lua, rather than 7
-- arguments or one table per entry). Type 'bad' means
-- "dead-letter, reason a";
-- 'work_submitted': a item id, b item JSON, c queue score, d index in KEYS of its queue;
-- 'work_completed': a item id, b associate id;
-- 'work_cancelled': a item id, d index in KEYS of the queue of its class;
-- 'work_updated': a item id, b its JSON as read, c its new JSON, d '<index in KEYS of
-- the queue of its class> <new queue score>'.
-- Cancel and update are cancel and update of work_lib.lua, as work_cancel.lua and
-- work_update.lua run them for DELETE and PATCH over HTTP.
-- An event id already applied (within the horizon) is a duplicate: counted, not applied
-- again, not dead-lettered. An event that cannot be applied is dead-lettered with its
-- reason and the writer's epoch. The cursor moves to ARGV[3] in this script; applied ids
-- and applied entries of the incoming stream older than the horizon are forgotten.
-- Returns {applied, duplicates, dead_lettered}.
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end

local K_STATS, K_CURSOR, K_APPLIED, K_IN, K_DEAD = KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local K_ITEMS, K_DONE, K_HEADS, K_CLAIMS = KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local K_LEASES, K_WORK, K_ATTEMPTS, K_HISTORY = KEYS[11], KEYS[12], KEYS[13], KEYS[14]
local K_CANCELLED, K_DEAD_SET, K_DEAD_AT, K_COMPLETIONS = KEYS[15], KEYS[16], KEYS[17], KEYS[18]
local FIRST_MORE_KEY = 19

local cursor = redis.call('GET', K_CURSOR) or ''
if cursor ~= ARGV[2] then
  return redis.error_reply('CURSOR moved to ' .. cursor .. ', expected ' .. ARGV[2])
end
local dead_maxlen, partition, now, forget_before = ARGV[5], ARGV[6], ARGV[7], ARGV[8]

-- stream_ms and dead_letter_entry: apply_lib.lua
local function dead_letter(sid, reason)
  dead_letter_entry(K_IN, K_DEAD, dead_maxlen, partition, ARGV[1], sid, reason)
end

-- Each handler returns nil when applied, else the reason to dead-letter.
local handlers = {}

-- An item id already queued, claimed or recently done is not queued again (a replay).
-- The queue key at index `queue_at` of KEYS (one of the further keys), or nil.
local function queue_key(queue_at)
  local at = tonumber(queue_at)
  if not at or at < FIRST_MORE_KEY or at > #KEYS then
    return nil
  end
  return KEYS[at]
end

-- New items are gathered: the batch's work_submitted are kept here (`pending`, by id,
-- and `order`) and written at once (write_new) by one ZADD per queue, one ZADD LT of
-- the heads, one HSET of the items and one HINCRBY, when the batch ends (also when it
-- failed part-way); their ids are recorded once written. A work_updated or
-- work_cancelled of an item still pending changes or drops it here instead (what
-- update and cancel of work_lib.lua would have done to it, queued and untouched since);
-- no other event reads what a pending item would write (a work_completed of it finds
-- no claim either way). `absent`: ids neither queued, claimed nor done when the batch
-- began (prefetch_items); `known`: ids a work_submitted of this batch queued (pending,
-- written or cancelled since), which a later submission of the same id must not queue.
-- A pending item cancelled is remembered with the done and cancelled ones (`dropped`)
-- by one ZADD each when the new items are written, or before an event that reads them
-- (write_dropped); `in_cancelled`: whether an id the batch cancels is in ZSET cancelled
-- (true / false: read for the batch's cancels at the start, and kept; nil: ask Redis).
local recorded = {}
local absent, known, pending, order, submitted = {}, {}, {}, {}, {}
local submissions, cancelled_pending = 0, 0
local dropped, in_cancelled = {}, {}

local function prefetch_items(batch)
  local ids, cancels = {}, {}
  for n = 1, #batch, SLOTS do
    local kind = batch[n + 1]
    if kind == 'work_submitted' then
      ids[#ids + 1] = batch[n + 3]
    elseif kind == 'work_cancelled' then
      cancels[#cancels + 1] = batch[n + 3]
    end
  end
  for first = 1, #cancels, 1000 do
    local last = math.min(first + 999, #cancels)
    local scores = redis.call('ZMSCORE', K_CANCELLED, unpack(cancels, first, last))
    for n = first, last do
      in_cancelled[cancels[n]] = scores[n - first + 1] and true or false
    end
  end
  for first = 1, #ids, 1000 do
    local last = math.min(first + 999, #ids)
    local items = redis.call('HMGET', K_ITEMS, unpack(ids, first, last))
    local done = redis.call('ZMSCORE', K_DONE, unpack(ids, first, last))
    for n = first, last do
      if not items[n - first + 1] and not done[n - first + 1] then absent[ids[n]] = true end
    end
  end
end

local function write_dropped()
  if #dropped == 0 then return end
  local members = {}
  for n = 1, #dropped do
    members[2 * n - 1] = now
    members[2 * n] = dropped[n]
  end
  for first = 1, #members, 2000 do
    local last = math.min(first + 1999, #members)
    redis.call('ZADD', K_DONE, unpack(members, first, last))
    redis.call('ZADD', K_CANCELLED, unpack(members, first, last))
  end
  dropped = {}
end

local function write_new()
  write_dropped()
  if #submitted == 0 then return end
  local fields, by_queue, lowest = {}, {}, {}
  for n = 1, #order do
    local id = order[n]
    local item = pending[id]
    if item then
      fields[#fields + 1] = id
      fields[#fields + 1] = item[1]
      local at = item[3]
      local members = by_queue[at]
      if not members then
        members = {}
        by_queue[at] = members
      end
      members[#members + 1] = item[2]
      members[#members + 1] = id
      local value = tonumber(item[2])
      if not lowest[at] or value < lowest[at][1] then lowest[at] = {value, item[2]} end
    end
  end
  local heads = {}
  for at, members in pairs(by_queue) do
    for first = 1, #members, 2000 do
      redis.call('ZADD', KEYS[at], unpack(members, first, math.min(first + 1999, #members)))
    end
    heads[#heads + 1] = lowest[at][2]
    heads[#heads + 1] = KEYS[at]
  end
  for first = 1, #heads, 2000 do
    redis.call('ZADD', K_HEADS, 'LT', unpack(heads, first, math.min(first + 1999, #heads)))
  end
  -- the items last: an item is known once it is whole (a retry writes it again)
  for first = 1, #fields, 2000 do
    redis.call('HSET', K_ITEMS, unpack(fields, first, math.min(first + 1999, #fields)))
  end
  -- every submission counts, also of an item cancelled before it was written
  redis.call('HINCRBY', K_WORK, 'submitted', submissions)
  if cancelled_pending > 0 then
    redis.call('HINCRBY', K_WORK, 'cancelled', cancelled_pending)
  end
  for n = 1, #submitted do recorded[#recorded + 1] = submitted[n] end
  pending, order, submitted, submissions, cancelled_pending = {}, {}, {}, 0, 0
end

handlers.work_submitted = function(id, json, score, queue_at)
  if not queue_key(queue_at) then
    return 'no queue key given for item ' .. id
  end
  if not absent[id] then
    if known[id] or redis.call('HEXISTS', K_ITEMS, id) == 1
        or redis.call('ZSCORE', K_DONE, id) then
      return nil
    end
  end
  absent[id] = nil
  known[id] = true
  -- by the queue's index in KEYS (queue_key checked it), so every key written is KEYS[i]
  pending[id] = {json, score, tonumber(queue_at)}
  order[#order + 1] = id
  submissions = submissions + 1
  return nil, submitted
end

handlers.work_completed = function(id, associate)
  write_dropped()  -- held reads ZSET cancelled
  local claim, err = held(K_CLAIMS, K_LEASES, K_CANCELLED, id, associate, '', now)
  if not claim then
    return (string.gsub(err, '^NOTCLAIMED %S+ ', ''))
  end
  redis.call('HDEL', K_CLAIMS, id)
  redis.call('ZREM', K_LEASES, id)
  redis.call('HDEL', K_ITEMS, id)
  redis.call('ZADD', K_DONE, now, id)
  redis.call('HDEL', K_ATTEMPTS, id)
  redis.call('HDEL', K_HISTORY, id)
  redis.call('HINCRBY', K_WORK, 'done', 1)
  redis.call('ZADD', K_COMPLETIONS, now, id)
end

-- Cancelled now or already: applied. Unknown (never, or done): dead-lettered.
local cancelled_any = false
-- Queues (by index in KEYS) an update or a cancel changed: their entries in the heads
-- index are fixed once, when the batch and its new items are written (fix_moved), not
-- after each event (cancel and update of work_lib.lua with defer_head).
local moved = {}
local function fix_moved()
  for at in pairs(moved) do fix_head(K_HEADS, KEYS[at]) end
  moved = {}
end
handlers.work_cancelled = function(id, _, _, queue_at)
  local queue = queue_key(queue_at)
  if not queue then
    return 'no queue key given for item ' .. id
  end
  local item = pending[id]
  if item and item[3] == tonumber(queue_at) then
    local was = in_cancelled[id]
    if was == nil then was = redis.call('ZSCORE', K_CANCELLED, id) and true or false end
    if not was then
      -- cancel of an item pending since this batch submitted it: never written, so
      -- nothing of it to take out; remembered as cancel remembers it (write_dropped)
      pending[id] = nil
      dropped[#dropped + 1] = id
      in_cancelled[id] = true
      cancelled_pending = cancelled_pending + 1
      cancelled_any = true
      return nil
    end
  end
  -- not the common case: cancel as it would be written
  if item then write_new() else write_dropped() end
  local done = cancel(K_ITEMS, K_CLAIMS, K_LEASES, K_HEADS, queue, K_ATTEMPTS, K_HISTORY,
    K_DEAD_SET, K_DEAD_AT, K_DONE, K_CANCELLED, K_WORK, id, now, true)
  in_cancelled[id] = nil  -- cancel may have added it
  if done == 1 then moved[tonumber(queue_at)] = true end
  if done == 0 then
    return 'no work item ' .. id .. ' to cancel (never submitted, or done)'
  end
  if done < 0 then
    return 'work item ' .. id .. ' is not in the queue of its class'
  end
  cancelled_any = true
end

-- Changed by another writer since the owner read it (a PATCH in between): dead-lettered,
-- so that it can be re-submitted; nothing is written.
handlers.work_updated = function(id, old_json, new_json, where)
  local queue_at, score = string.match(where, '^(%d+) (%S+)$')
  local queue = queue_key(queue_at)
  if not queue then
    return 'no queue key given for item ' .. id
  end
  local item = pending[id]
  if item and item[3] == tonumber(queue_at) then
    -- update of an item pending since this batch submitted it: changed here, written
    -- (and this event recorded) with it
    if item[1] ~= old_json then
      return 'work item ' .. id .. ' changed while the update was applied: re-submit it'
    end
    item[1], item[2] = new_json, score
    return nil, submitted
  end
  if item then write_new() end
  local found = update(K_ITEMS, K_CLAIMS, K_HEADS, queue, K_DEAD_SET, id, old_json,
    new_json, score, true)
  if found == 1 then moved[tonumber(queue_at)] = true end
  if found == 0 then
    return 'no work item ' .. id .. ' to update (never submitted, done or cancelled)'
  end
  if found < 0 then
    return 'work item ' .. id .. ' changed while the update was applied: re-submit it'
  end
end

local batch = cjson.decode(ARGV[9])

-- Event ids applied before this batch, and those this batch applies (applied_ids,
-- apply_recorded: apply_lib.lua); `recorded` takes (stream ms, id) of each applied here,
-- `submitted` those of the new items (and of their updates) until they are written.
local seen = applied_ids(K_APPLIED, batch)
prefetch_items(batch)

-- An applied id's score in K_APPLIED is its entry's stream ms plus the entry's sequence
-- number / 1024, not the ms alone (as city_apply.lua): scores only bound how long an id
-- is remembered (trimmed below the horizon's cutoff, in ms), and distinct scores in
-- stream order make each ZADD insert near the skiplist's end, where ids of one ms
-- sharing a score had Redis compare their text at every level. Exact while ms < 2^42.
local find, sub = string.find, string.sub
local function applied_score(sid)
  local dash = find(sid, '-', 1, true)
  return tonumber(sub(sid, 1, dash - 1)) + tonumber(sub(sid, dash + 1)) / 1024
end

-- done_sid: the stream id of the last entry handled (applied, counted as a duplicate or
-- dead-lettered): where the cursor moves if a later entry fails (see the end).
local applied, duplicates, dead, done_sid = 0, 0, 0, nil
local function apply_batch()
  for n = 1, #batch, SLOTS do
    local sid, kind, event_id = batch[n], batch[n + 1], batch[n + 2]
    if kind == 'bad' then
      dead_letter(sid, batch[n + 3])
      dead = dead + 1
    elseif seen[event_id] then
      duplicates = duplicates + 1
    else
      local handler = handlers[kind]
      local reason, gathered
      if handler then
        reason, gathered = handler(batch[n + 3], batch[n + 4], batch[n + 5], batch[n + 6])
      else
        reason = 'event type ' .. kind .. ' does not apply to a store'
      end
      if reason then
        dead_letter(sid, reason)
        dead = dead + 1
      else
        local into = gathered or recorded
        into[#into + 1] = applied_score(sid)
        into[#into + 1] = event_id
        seen[event_id] = true
        applied = applied + 1
      end
    end
    done_sid = sid
  end
end

-- The batch, then the new items it gathered and the heads of the queues it changed
-- (also when it failed part-way).
local function apply_then_write()
  local ok, failure = pcall(apply_batch)
  local written, refused = pcall(write_new)
  local fixed, unfixed = pcall(fix_moved)
  -- the gathered writes failed: the entries that gathered them are not done
  if not (written and fixed) then done_sid = nil end
  if not ok then error(failure, 0) end
  if not written then error(refused, 0) end
  if not fixed then error(unfixed, 0) end
end

local failed = apply_recorded(apply_then_write, K_APPLIED, recorded)
if failed then
  return fail_part_way(failed, done_sid, K_CURSOR, K_STATS, applied, duplicates, dead)
end

count_batch(K_STATS, applied, duplicates, dead)
if cancelled_any then
  redis.call('ZREMRANGEBYSCORE', K_CANCELLED, '-inf', '(' .. forget_before)
end
if ARGV[3] == '' then return {applied, duplicates, dead} end
redis.call('SET', K_CURSOR, ARGV[3])

-- Forget what is older than the horizon: applied ids, and applied entries of the stream.
local cutoff = stream_ms(ARGV[3]) - tonumber(ARGV[4])
if cutoff > 0 then
  redis.call('ZREMRANGEBYSCORE', K_APPLIED, '-inf', '(' .. cutoff)
  redis.call('XTRIM', K_IN, 'MINID', cutoff)
end
return {applied, duplicates, dead}
