-- Shared by the work dispenser's scripts (prepended after the fencing prelude, if any).
--
-- A claim record is the value of HASH claims at the item's id, as JSON:
--   {a = associate id, t = claim token (decimal string), c = claimed at (seconds),
--    q = the queue key the item came from, s = its score there (text, exact)}
-- and its lease expiry is the item's score in ZSET leases. An item is in exactly one
-- place: a queue, or claims + leases, or the dead set, or done. Every script moves it
-- atomically.

-- The heads index (ZSET heads) holds every non-empty class queue of the store, scored
-- by the score of the queue's first item. Whoever adds to a queue lowers its entry
-- (ZADD LT); whoever pops from one resets it from the new head, or removes it.
local function push(heads_key, queue, score, id)
  redis.call('ZADD', queue, score, id)
  redis.call('ZADD', heads_key, 'LT', score, queue)
end

-- Put a claimed item back at its place in the queue it came from. The caller read that
-- queue's key from the claim and passed it in KEYS as `queue_key`; false (and nothing
-- written) if the claim names another queue.
local function requeue(heads_key, queue_key, claim, id)
  if claim.q ~= queue_key then return false end
  push(heads_key, queue_key, claim.s, id)
  return true
end

-- The claim on `id` if `associate` holds it (and, when `token` is not '', holds that
-- very claim) and its lease has not lapsed at `now`; else nil and the reason, as
-- 'NOTCLAIMED <code> <message>' (the code is the client's: see jarvis/api/errors.py).
-- A cancelled item (ZSET cancelled) answers item_cancelled instead of not_claimed.
local function held(claims_key, leases_key, cancelled_key, id, associate, token, now)
  local raw = redis.call('HGET', claims_key, id)
  if not raw then
    if redis.call('ZSCORE', cancelled_key, id) then
      return nil, 'NOTCLAIMED item_cancelled item ' .. id .. ' was cancelled'
    end
    return nil, 'NOTCLAIMED not_claimed item ' .. id .. ' is not claimed'
  end
  local claim = cjson.decode(raw)
  if claim.a ~= associate then
    return nil, 'NOTCLAIMED not_your_claim item ' .. id .. ' is claimed by another associate'
  end
  if token ~= '' and claim.t ~= token then
    return nil, 'NOTCLAIMED claim_replaced item ' .. id .. ': claim ' .. token .. ' is no longer held'
  end
  local expires = redis.call('ZSCORE', leases_key, id)
  if (not expires) or tonumber(expires) <= tonumber(now) then
    return nil, 'NOTCLAIMED claim_lapsed item ' .. id .. ': the claim lapsed'
  end
  return claim, nil
end

-- Attempts and poison work. Every claim counts one attempt (HASH attempts). When a
-- claim comes back (`why`: 'lapsed' or 'released') it is appended to the item's history
-- (HASH history, the last HISTORY_MAX entries); an item that has been claimed
-- max_attempts times (its own, from its JSON in HASH items, else `default_max`) then
-- goes to the dead set instead of its queue, with the queue and score it came from.
-- Returns true when the item went to the dead set (the caller deletes the claim and
-- does not requeue it).
local HISTORY_MAX = 50

local function remember(history_key, id, entry)
  local raw = redis.call('HGET', history_key, id)
  local history = raw and cjson.decode(raw) or {}
  history[#history + 1] = entry
  while #history > HISTORY_MAX do
    table.remove(history, 1)
  end
  redis.call('HSET', history_key, id, cjson.encode(history))
end

local function came_back(items_key, attempts_key, history_key, dead_key, dead_at_key,
                         stats_key, id, claim, why, now, default_max)
  remember(history_key, id, {a = claim.a, t = claim.t, c = claim.c, r = now, why = why})
  local attempts = tonumber(redis.call('HGET', attempts_key, id) or '0')
  local max = tonumber(default_max)
  local json = redis.call('HGET', items_key, id)
  if json then
    local own = cjson.decode(json).max_attempts
    if type(own) == 'number' then max = own end
  end
  if attempts < max then
    return false
  end
  local record = {q = claim.q, s = claim.s, n = attempts, at = now, why = why}
  redis.call('HSET', dead_key, id, cjson.encode(record))
  redis.call('ZADD', dead_at_key, now, id)
  redis.call('HINCRBY', stats_key, 'dead', 1)
  return true
end

-- Reset the heads index entry of `queue_key` from its first item, or remove it when the
-- queue is empty.
local function fix_head(heads_key, queue_key)
  local first = redis.call('ZRANGE', queue_key, 0, 0, 'WITHSCORES')
  if first[1] then
    redis.call('ZADD', heads_key, first[2], queue_key)
  else
    redis.call('ZREM', heads_key, queue_key)
  end
end

-- Cancel `id` wherever it is: its queue (`queue_key`, the queue of its class, which the
-- caller derived from its JSON), its claim, or the dead set. The id is remembered in
-- ZSET cancelled (so a holder's next call answers item_cancelled) and with the done
-- ones (so a replayed submission is not queued again). Returns 1 when cancelled now,
-- 2 when it was cancelled already, 0 when the store does not have it (never, or done),
-- -1 (nothing written) when it is queued but not in `queue_key`. A queued item has no
-- claim, lease or dead record (an item is in one place), so none is deleted for it.
-- With `defer_head`, the heads index is left to the caller (fix_head of `queue_key`
-- before the script ends: work_apply.lua fixes each queue once per batch).
local function cancel(items_key, claims_key, leases_key, heads_key, queue_key, attempts_key,
                      history_key, dead_key, dead_at_key, done_key, cancelled_key, stats_key,
                      id, now, defer_head)
  if redis.call('ZSCORE', cancelled_key, id) then
    return 2
  end
  if redis.call('HEXISTS', items_key, id) == 0 then
    return 0
  end
  if redis.call('ZREM', queue_key, id) == 1 then
    if not defer_head then fix_head(heads_key, queue_key) end
  elseif redis.call('HEXISTS', claims_key, id) == 0 and redis.call('HEXISTS', dead_key, id) == 0 then
    return -1
  else
    redis.call('HDEL', claims_key, id)
    redis.call('ZREM', leases_key, id)
    redis.call('HDEL', dead_key, id)
    redis.call('ZREM', dead_at_key, id)
  end
  redis.call('HDEL', items_key, id)
  redis.call('HDEL', attempts_key, id)
  redis.call('HDEL', history_key, id)
  redis.call('ZADD', done_key, now, id)
  redis.call('ZADD', cancelled_key, now, id)
  redis.call('HINCRBY', stats_key, 'cancelled', 1)
  return 1
end

-- Update `id` in place (priority, due time, duration): its JSON, and its score wherever
-- the score lives: in its queue (`queue_key`, the queue of its class; the head index
-- follows), in its claim record (a released or lapsed claim returns it at the new place)
-- or in its dead record. Compare-and-set: writes only if the item's JSON is still
-- `old_json`. Returns 1 queued, 2 claimed, 3 dead, 0 unknown (never, done or cancelled),
-- -1 changed meanwhile (nothing written). `defer_head`: as for cancel.
local function update(items_key, claims_key, heads_key, queue_key, dead_key, id, old_json,
                      new_json, score, defer_head)
  local current = redis.call('HGET', items_key, id)
  if not current then
    return 0
  end
  if current ~= old_json then
    return -1
  end
  redis.call('HSET', items_key, id, new_json)
  if redis.call('ZSCORE', queue_key, id) then
    redis.call('ZADD', queue_key, score, id)
    if not defer_head then fix_head(heads_key, queue_key) end
    return 1
  end
  local raw = redis.call('HGET', claims_key, id)
  if raw then
    local claim = cjson.decode(raw)
    claim.s = score
    redis.call('HSET', claims_key, id, cjson.encode(claim))
    return 2
  end
  raw = redis.call('HGET', dead_key, id)
  if raw then
    local record = cjson.decode(raw)
    record.s = score
    redis.call('HSET', dead_key, id, cjson.encode(record))
    return 3
  end
  return 1
end
