-- Apply a batch of validated entries of a city's incoming stream, atomically and fenced.
--
-- KEYS and ARGV: CITY_APPLY in jarvis/store/specs.py.
-- ARGV[9] is the batch: one flat JSON array of seven slots per entry, entry after entry:
-- stream id, type, event id, a, b, c, d (the slots of CityStore._slots; type 'bad' for an
-- entry to dead-letter, its reason in a): one argument decoded once here into one table
-- (SLOTS: apply_lib.lua), rather than seven arguments or one table per entry.
-- Returns {applied, duplicates, dead_lettered}. Semantic errors are dead-lettered with
-- their reason; the cursor moves to ARGV[3] in the same script. Every change to an
-- assignment (delivered; ended by a cancel or a courier going offline) and every cancel
-- of an open order is also written to the out stream, which makes the out stream the
-- partition's complete history (read by jarvis.checker).
--
-- Acceptance mode: an order the commit offered (status 'offered', its expiry in the
-- offers zset) becomes 'assigned' on the courier's offer_accepted ('accepted' on the out
-- stream). An offer expires when an event later than its expiry is applied, or at
-- ARGV[8] (the owner's clock, ms; '' for none): the order reopens, the courier is given
-- the decline cooldown for it, and the out stream says 'unassigned' with reason
-- 'expired'. Offers expire in time order, before the events that come after them.
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end

local cursor = redis.call('GET', KEYS[3]) or ''
if cursor ~= ARGV[2] then
  return redis.error_reply('CURSOR moved to ' .. cursor .. ', expected ' .. ARGV[2])
end

local K_STATS, K_APPLIED, K_IN, K_DEAD = KEYS[2], KEYS[4], KEYS[5], KEYS[6]
local K_ORDERS, K_STATUS, K_OPEN, K_CLOSED = KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local K_ASSIGN, K_COURIERS, K_POS, K_CAP = KEYS[11], KEYS[12], KEYS[13], KEYS[14]
local K_LOAD, K_HELD, K_ONLINE, K_OUT = KEYS[15], KEYS[16], KEYS[17], KEYS[18]
local K_DECLINES, K_OFFERS = KEYS[19], KEYS[20]
local dead_maxlen = ARGV[5]
local partition = ARGV[6]
local out_maxlen = ARGV[7]

-- stream_ms and dead_letter_entry: apply_lib.lua
local function dead_letter(sid, reason)
  dead_letter_entry(K_IN, K_DEAD, dead_maxlen, partition, ARGV[1], sid, reason)
end

-- One history entry in the out stream: 'delivered', 'unassigned' or 'cancelled'.
local function history(kind, ms, order, courier, reason)
  redis.call('XADD', K_OUT, 'MAXLEN', '~', out_maxlen, '*', 'type', kind,
    'partition', partition, 'epoch', ARGV[1], 'tick', '0', 'at', tostring(ms / 1000),
    'task', order, 'worker', courier or '', 'reason', reason or '')
end

-- Free the courier slot an order held and forget the assignment; record why.
local function release(order, kind, ms, reason)
  local courier = redis.call('HGET', K_ASSIGN, order)
  if not courier then return end
  history(kind, ms, order, courier, reason)
  if redis.call('HINCRBY', K_LOAD, courier, -1) <= 0 then redis.call('HDEL', K_LOAD, courier) end
  held_remove(K_HELD, courier, order)
  redis.call('HDEL', K_ASSIGN, order)
  redis.call('ZREM', K_OFFERS, order)
end

local function close(order, status, ms)
  redis.call('HSET', K_STATUS, order, status)
  redis.call('HDEL', K_ORDERS, order)
  redis.call('ZADD', K_CLOSED, ms, order)
end

-- The open pool is ordered by created_at; the Order JSON is written by CityStore
-- (pydantic, compact), so the number is read from its text without losing precision.
local function created_at(order)
  local json = redis.call('HGET', K_ORDERS, order)
  return json and string.match(json, '"created_at":([-+.%deE]+)')
end

local function not_now(order, status)
  if not status then return 'unknown order ' .. order end
  return 'order ' .. order .. ' is ' .. status
end

-- Reopen an order that was assigned (or offered) and not picked up; nil, or why not.
local function reopen(order, ms, reason)
  local score = created_at(order)
  if not score then return 'order ' .. order .. ' has no readable record' end
  redis.call('HSET', K_STATUS, order, 'open')
  redis.call('ZADD', K_OPEN, score, order)
  release(order, 'unassigned', ms, reason)
end

-- Expire every offer whose expiry is at or before ms, oldest first.
local function expire(ms)
  local due = redis.call('ZRANGEBYSCORE', K_OFFERS, '-inf', ms, 'WITHSCORES')
  for n = 1, #due, 2 do
    local order, at = due[n], tonumber(due[n + 1])
    local courier = redis.call('HGET', K_ASSIGN, order)
    if redis.call('HGET', K_STATUS, order) == 'offered' and courier
        and not reopen(order, at, 'expired') then
      redis.call('ZADD', K_DECLINES, at, order .. ' ' .. courier)
    else
      redis.call('ZREM', K_OFFERS, order)
    end
  end
end

-- Each handler returns nil when applied, else the reason to dead-letter.
local handlers = {}
-- (stream ms, event id) of each event applied and written, recorded in K_APPLIED at the end.
local pending = {}

-- New orders are gathered too: a run of order_created (and of the courier events, which
-- touch no order) is written by one HSET of records, one of statuses and one ZADD
-- (write_created), before any other event is applied, and when the batch ends. Their
-- ids are recorded once written. `absent`: orders without a status when the batch began
-- (prefetch_orders), which only an order_created can give one.
local absent, new_orders, created = {}, {}, {}
local new_fields = {records = {}, statuses = {}, open = {}}

local function prefetch_orders(batch)
  local ids = {}
  for n = 1, #batch, SLOTS do
    if batch[n + 1] == 'order_created' then ids[#ids + 1] = batch[n + 3] end
  end
  for first = 1, #ids, 1000 do
    local last = math.min(first + 999, #ids)
    local statuses = redis.call('HMGET', K_STATUS, unpack(ids, first, last))
    for n = first, last do
      if not statuses[n - first + 1] then absent[ids[n]] = true end
    end
  end
end

local function write_chunked(command, key, items)
  for first = 1, #items, 2000 do
    redis.call(command, key, unpack(items, first, math.min(first + 1999, #items)))
  end
end

local function write_created()
  if #created == 0 then return end
  -- statuses last: an order has one only once it is whole (a retry after a failed write
  -- creates it again rather than finding it half made)
  write_chunked('ZADD', K_OPEN, new_fields.open)
  write_chunked('HSET', K_ORDERS, new_fields.records)
  write_chunked('HSET', K_STATUS, new_fields.statuses)
  for n = 1, #created do pending[#pending + 1] = created[n] end
  new_orders, created = {}, {}
  new_fields = {records = {}, statuses = {}, open = {}}
end

handlers.order_created = function(ms, order, json, created_at)
  if not absent[order] then
    local status = new_orders[order] and 'open' or redis.call('HGET', K_STATUS, order)
    if status then return 'order ' .. order .. ' already exists (' .. status .. ')' end
  end
  absent[order] = nil
  new_orders[order] = true
  local f = new_fields
  f.records[#f.records + 1] = order
  f.records[#f.records + 1] = json
  f.statuses[#f.statuses + 1] = order
  f.statuses[#f.statuses + 1] = 'open'
  f.open[#f.open + 1] = created_at
  f.open[#f.open + 1] = order
  return nil, created
end

handlers.order_cancelled = function(ms, order)
  local status = redis.call('HGET', K_STATUS, order)
  if status == 'open' then
    redis.call('ZREM', K_OPEN, order)
    history('cancelled', ms, order, nil, 'cancelled')
  elseif status == 'assigned' or status == 'offered' then
    release(order, 'unassigned', ms, 'cancelled')
  elseif status == 'picked_up' then
    return 'order ' .. order .. ' is already picked up and cannot be cancelled'
  else
    return not_now(order, status)
  end
  close(order, 'cancelled', ms)
end

handlers.order_picked_up = function(ms, order)
  local status = redis.call('HGET', K_STATUS, order)
  if status ~= 'assigned' then
    if status == 'open' then return 'order ' .. order .. ' is not assigned' end
    return not_now(order, status)
  end
  redis.call('HSET', K_STATUS, order, 'picked_up')
end

-- Delivery frees the slot; a delivery whose pick-up event never came is accepted too.
handlers.order_delivered = function(ms, order)
  local status = redis.call('HGET', K_STATUS, order)
  if status ~= 'picked_up' and status ~= 'assigned' then
    if status == 'open' then return 'order ' .. order .. ' is not assigned' end
    return not_now(order, status)
  end
  release(order, 'delivered', ms, '')
  close(order, 'delivered', ms)
end

-- The courier gives back an order assigned to it and not picked up: the order reopens
-- and the decline is remembered (for the solver's cooldown) until the horizon.
handlers.order_declined = function(ms, order, courier, reason)
  local status = redis.call('HGET', K_STATUS, order)
  if status ~= 'assigned' and status ~= 'offered' then
    if status == 'open' then return 'order ' .. order .. ' is not assigned' end
    if status == 'picked_up' then
      return 'order ' .. order .. ' is already picked up and cannot be declined'
    end
    return not_now(order, status)
  end
  if redis.call('HGET', K_ASSIGN, order) ~= courier then
    return 'order ' .. order .. ' is not assigned to courier ' .. courier
  end
  if reason == '' then reason = 'declined' else reason = 'declined: ' .. reason end
  local refused = reopen(order, ms, reason)
  if refused then return refused end
  redis.call('ZADD', K_DECLINES, ms, order .. ' ' .. courier)
end

-- The courier accepts an order offered to it: the offer becomes an assignment.
handlers.offer_accepted = function(ms, order, courier)
  local status = redis.call('HGET', K_STATUS, order)
  if status ~= 'offered' then
    if status == 'open' then return 'order ' .. order .. ' is not offered' end
    return not_now(order, status)
  end
  if redis.call('HGET', K_ASSIGN, order) ~= courier then
    return 'order ' .. order .. ' is not offered to courier ' .. courier
  end
  redis.call('HSET', K_STATUS, order, 'assigned')
  redis.call('ZREM', K_OFFERS, order)
  history('accepted', ms, order, courier, '')
end

-- Whether each courier has a record (true) or had none when looked up (false). This
-- script writes courier records and never deletes one, so a courier found once stays
-- known until the script ends. The couriers the batch moves are looked up at once
-- (prefetch_couriers), any other on first use.
local known_couriers = {}
local function courier_known(courier)
  local known = known_couriers[courier]
  if known == nil then
    known = redis.call('HEXISTS', K_COURIERS, courier) == 1
    known_couriers[courier] = known
  end
  return known
end

local function prefetch_couriers(batch)
  local ids, listed = {}, {}
  for n = 1, #batch, SLOTS do
    local courier = batch[n + 3]
    if batch[n + 1] == 'courier_moved' and not listed[courier] then
      listed[courier] = true
      ids[#ids + 1] = courier
    end
  end
  for first = 1, #ids, 1000 do
    local last = math.min(first + 999, #ids)
    local records = redis.call('HMGET', K_COURIERS, unpack(ids, first, last))
    for n = first, last do known_couriers[ids[n]] = records[n - first + 1] ~= false end
  end
end

-- A courier's position is the last one written in stream order, so the moves of a batch
-- are gathered here (courier -> position of its latest move) and written by one HSET
-- when the batch ends (write_moves), rather than one HSET per move. A courier_online
-- writes its position at once and drops the courier's gathered move, which it follows.
local moved_to, moves = {}, {}

handlers.courier_online = function(ms, courier, json, capacity, position)
  redis.call('HSET', K_COURIERS, courier, json)
  known_couriers[courier] = true
  redis.call('HSET', K_CAP, courier, capacity)
  redis.call('HSET', K_POS, courier, position)
  moved_to[courier] = nil
  redis.call('SADD', K_ONLINE, courier)
end

handlers.courier_offline = function(ms, courier)
  if not courier_known(courier) then
    return 'unknown courier ' .. courier
  end
  local unstarted = {}
  for _, order in ipairs(held_list(K_HELD, courier)) do
    local status = redis.call('HGET', K_STATUS, order)
    if status == 'assigned' or status == 'offered' then
      local score = created_at(order)
      if not score then return 'order ' .. order .. ' has no readable record' end
      unstarted[#unstarted + 1] = {order, score}
    end
  end
  redis.call('SREM', K_ONLINE, courier)
  for _, pair in ipairs(unstarted) do
    redis.call('HSET', K_STATUS, pair[1], 'open')
    redis.call('ZADD', K_OPEN, pair[2], pair[1])
    release(pair[1], 'unassigned', ms, 'offline')
  end
end

handlers.courier_moved = function(ms, courier, position)
  if not courier_known(courier) then
    return 'unknown courier ' .. courier
  end
  moved_to[courier] = position
  return nil, moves
end

-- The lowest expiry in the offers zset, or nil. This script only ever removes offers,
-- so no offer is due before it: the events before it need no look at the offers.
local function next_due()
  local first = redis.call('ZRANGE', K_OFFERS, 0, 0, 'WITHSCORES')
  return first[2] and tonumber(first[2])
end

-- The kinds that touch no order but new ones: they do not need new orders written first.
local gathers = {order_created = true, courier_moved = true, courier_online = true}

local batch = cjson.decode(ARGV[9])

-- Event ids applied before this batch, and those this batch applies (applied_ids,
-- apply_recorded: apply_lib.lua); `pending` takes (stream ms, id) of each applied here,
-- `moves` and `created` those of the moves and new orders until they are written.
local seen = applied_ids(K_APPLIED, batch)
prefetch_couriers(batch)
prefetch_orders(batch)

-- applied_score: an applied id's score in K_APPLIED is its entry's stream ms plus the
-- entry's sequence number / 1024, not the ms alone. Scores only bound how long an id is
-- remembered (trimmed below the horizon's cutoff, in ms), and a sequence of 1,024 or more
-- only keeps its id a few ms longer. Distinct scores in stream order make each ZADD
-- insert near the skiplist's end; with the many ids of one ms sharing a score, Redis
-- compared the ids' text at every level (ZADD 2.5x slower per id, 20,000 ids, 3 runs).
-- Exact: ms < 2^42 (the year 2109) leaves ten bits of a double for the fraction.
-- done_sid: the stream id of the last entry handled (applied, counted as a duplicate or
-- dead-lettered): where the cursor moves if a later entry fails (see the end).
local applied, duplicates, dead, done_sid = 0, 0, 0, nil
local due = next_due()
local function apply_batch()
  for n = 1, #batch, SLOTS do
    local sid, kind, event_id = batch[n], batch[n + 1], batch[n + 2]
    local ms_text, seq = string.match(sid, '^(%d+)-(%d+)$')
    local ms = tonumber(ms_text)
    if due and ms >= due then
      write_created()
      expire(ms)
      due = next_due()
    end
    if kind == 'bad' then
      dead_letter(sid, batch[n + 3])
      dead = dead + 1
    elseif seen[event_id] then
      duplicates = duplicates + 1
    else
      local handler = handlers[kind]
      local reason, gathered
      if not gathers[kind] then write_created() end
      if handler then
        reason, gathered = handler(ms, batch[n + 3], batch[n + 4], batch[n + 5], batch[n + 6])
      else
        reason = 'event type ' .. kind .. ' does not apply to a city'
      end
      if reason then
        dead_letter(sid, reason)
        dead = dead + 1
      else
        local into = gathered or pending
        into[#into + 1] = ms + tonumber(seq) / 1024  -- its score: see applied_score
        into[#into + 1] = event_id
        seen[event_id] = true
        applied = applied + 1
      end
    end
    done_sid = sid
  end
end

-- The gathered positions in one HSET per 1,000 couriers.
local function write_moves()
  local fields = {}
  for courier, position in pairs(moved_to) do
    fields[#fields + 1] = courier
    fields[#fields + 1] = position
  end
  for first = 1, #fields, 2000 do
    redis.call('HSET', K_POS, unpack(fields, first, math.min(first + 1999, #fields)))
  end
end

-- The batch, then the new orders and moves it gathered (also when it failed part-way):
-- their ids are recorded with the others only once they are written.
local function apply_then_move()
  local ok, failure = pcall(apply_batch)
  local written, refused = pcall(write_created)
  if ok and not written then ok, failure = false, refused end
  local moved, refusal = pcall(write_moves)
  if moved then
    for n = 1, #moves do pending[#pending + 1] = moves[n] end
  end
  -- the gathered writes failed: the entries that gathered them are not done
  if not (written and moved) then done_sid = nil end
  if not ok then error(failure, 0) end
  if not moved then error(refusal, 0) end
end

local failed = apply_recorded(apply_then_move, K_APPLIED, pending)
if failed then
  return fail_part_way(failed, done_sid, KEYS[3], K_STATS, applied, duplicates, dead)
end

count_batch(K_STATS, applied, duplicates, dead)
if ARGV[8] ~= '' then expire(tonumber(ARGV[8])) end
if ARGV[3] == '' then return {applied, duplicates, dead} end
redis.call('SET', KEYS[3], ARGV[3])

-- Forget what is older than the horizon: applied ids, closed orders, applied entries.
local cutoff = stream_ms(ARGV[3]) - tonumber(ARGV[4])
if cutoff > 0 then
  redis.call('ZREMRANGEBYSCORE', K_APPLIED, '-inf', '(' .. cutoff)
  redis.call('ZREMRANGEBYSCORE', K_DECLINES, '-inf', '(' .. cutoff)
  local expired = redis.call('ZRANGEBYSCORE', K_CLOSED, '-inf', '(' .. cutoff, 'LIMIT', 0, 1000)
  for _, order in ipairs(expired) do
    redis.call('HDEL', K_STATUS, order)
    redis.call('ZREM', K_CLOSED, order)
  end
  redis.call('XTRIM', K_IN, 'MINID', cutoff)
end
return {applied, duplicates, dead}
