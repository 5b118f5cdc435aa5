-- Shared by the work dispenser's scripts (prepended after the fencing prelude, if any).
--
-- A claim record is the value of HASH claims at the item's id, as JSON:
--   {a = associate id, t = claim token (decimal string), c = claimed at (seconds),
--    q = the queue key the item came from, s = its score there (text, exact)}
-- and its lease expiry is the item's score in ZSET leases. An item is in exactly one
-- place: a queue, or claims + leases, or done. Every script moves it atomically.

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
local function held(claims_key, leases_key, id, associate, token, now)
  local raw = redis.call('HGET', claims_key, id)
  if not raw then
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
