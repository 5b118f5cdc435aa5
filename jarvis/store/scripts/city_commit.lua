-- Commit one tick's assignments of a city, atomically and fenced: all or nothing.
--
-- KEYS and ARGV: CITY_COMMIT in jarvis/store/specs.py. The pairs come as one JSON
-- argument (ARGV[8], a flat array: order, courier, from, order, ...) and the stop
-- orders as another (ARGV[9], flat: courier, route, ...), each decoded once by cjson:
-- thousands of separate arguments cost the client more to pack than the script to run.
-- Every pair is checked first (order still open and unassigned, courier online with a
-- free slot counting the earlier pairs of this commit). If any check fails nothing
-- changes but the 'conflicts' counter and {0, reason, ...} is returned. Otherwise all
-- are applied, each gets an 'assignment' entry on the out stream, then one 'tick'
-- marker closes the tick, and {1, marker id} is returned. An empty commit only records
-- the tick.
--
-- A pair with a third field 'from' (a courier id, '' for none) is a reassignment: the order must be
-- 'assigned' to that courier (not picked up, not an offer) and reassigned fewer than
-- ARGV[7] times; it moves, the move is counted in the reassigned hash, and the out
-- stream says 'reassignment' (task, worker, from). With ARGV[6] > 0 (acceptance mode,
-- the offer timeout in ms) new pairs are offers: status 'offered', expiry now + ARGV[6]
-- in the offers zset, 'offer' entries on the out stream (with expires_at). In that mode
-- a moved order (accepted by its old courier, so 'assigned') is offered to the new
-- courier the same way: the old courier is released at once, the 'reassignment' entry
-- carries expires_at, and the new courier accepts, declines or lets it expire like any
-- offer (a declined or expired one returns to the pool).
--
-- A route is its courier's whole stop order after this commit ('+id' a pickup, '-id' a
-- drop-off, space-separated; jarvis/models/stops.py), given only for a courier the
-- commit gives an order to, once. It must name every order the courier holds after
-- the commit, each once as a drop-off and, unless picked up, once as a pickup before
-- it (a picked-up order's pickup may stay, before it: a stop already made), and no
-- other order; it is stored in courier_routes. Without one a stored
-- stop order keeps its held orders and the new order goes last. A moved order leaves
-- its old courier's stop order. Setting the same stop order again changes nothing.
local refused = fence(KEYS[1], KEYS[2], ARGV[1])
if refused then return refused end

local K_STATS, K_STATUS, K_OPEN, K_ASSIGN = KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local K_CAP, K_LOAD, K_HELD, K_ONLINE, K_OUT = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local K_OFFERS, K_MOVED, K_ROUTES = KEYS[11], KEYS[12], KEYS[13]
local epoch, tick, now, partition, maxlen = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local offer_ms, max_moves = tonumber(ARGV[6]), tonumber(ARGV[7])

-- Redis calls in chunks (unpack has a stack limit): one HMGET/HSET for many fields.
-- Nothing below calls Redis once per courier or per pair but a move (rare) and the
-- out stream's entries: a call from Lua costs more than the work it does here.
local CHUNK = 1000
local function call_chunked(cmd, key, items, width)
  local out = {}
  for first = 1, #items, CHUNK * width do
    local last = math.min(first + CHUNK * width - 1, #items)
    local reply = redis.call(cmd, key, unpack(items, first, last))
    if type(reply) == 'table' then
      for _, v in ipairs(reply) do out[#out + 1] = v end
    end
  end
  return out
end

local orders, couriers, froms = {}, {}, {}
local batch, given = cjson.decode(ARGV[8]), cjson.decode(ARGV[9])
for i = 1, #batch, 3 do
  orders[#orders + 1] = batch[i]
  couriers[#couriers + 1] = batch[i + 1]
  froms[#froms + 1] = batch[i + 2]
end
-- Values of many fields of one hash, by field (one HMGET per chunk).
local function hash_values(key, fields)
  local values, out = call_chunked('HMGET', key, fields, 1), {}
  for k, field in ipairs(fields) do out[field] = values[k] end
  return out
end

-- The couriers of the commit, each once: every pair's courier and every move's old one.
local involved, is_involved, moving = {}, {}, false
local function involve(courier)
  if not is_involved[courier] then
    is_involved[courier] = true
    involved[#involved + 1] = courier
  end
end
for n = 1, #orders do
  involve(couriers[n])
  if froms[n] ~= '' then
    involve(froms[n])
    moving = true
  end
end
local statuses = call_chunked('HMGET', K_STATUS, orders, 1)
local capacity_of = hash_values(K_CAP, involved)
local load_of = hash_values(K_LOAD, involved)
local held_before = hash_values(K_HELD, involved)
local online_of = {}
for k, member in ipairs(call_chunked('SMISMEMBER', K_ONLINE, involved, 1)) do
  online_of[involved[k]] = member
end

local reasons = {}
local taken = {}
local pending = {}
for n = 1, #orders do
  local order, courier, status, from = orders[n], couriers[n], statuses[n], froms[n]
  if taken[order] then
    reasons[#reasons + 1] = 'order ' .. order .. ' appears twice in the commit'
  elseif not status then
    reasons[#reasons + 1] = 'order ' .. order .. ' is unknown'
  elseif from ~= '' then
    local moves = tonumber(redis.call('HGET', K_MOVED, order) or '0')
    if status ~= 'assigned' or redis.call('HGET', K_ASSIGN, order) ~= from then
      reasons[#reasons + 1] = 'order ' .. order .. ' is no longer assigned to ' .. from
    elseif from == courier then
      reasons[#reasons + 1] = 'order ' .. order .. ' cannot be reassigned to its courier'
    elseif moves >= max_moves then
      reasons[#reasons + 1] = 'order ' .. order .. ' was reassigned ' .. moves .. ' times'
    end
  elseif status ~= 'open' then
    reasons[#reasons + 1] = 'order ' .. order .. ' is no longer open (' .. status .. ')'
  end
  taken[order] = true
  local capacity = tonumber(capacity_of[courier])
  if not capacity then
    reasons[#reasons + 1] = 'courier ' .. courier .. ' is unknown'
  elseif pending[courier] == nil and online_of[courier] == 0 then
    reasons[#reasons + 1] = 'courier ' .. courier .. ' is offline'
  else
    local load = tonumber(load_of[courier] or '0') + (pending[courier] or 0)
    if load >= capacity then
      reasons[#reasons + 1] = 'courier ' .. courier .. ' is full (' .. load .. '/' .. capacity .. ')'
    end
  end
  pending[courier] = (pending[courier] or 0) + 1
end

-- What each courier of the commit holds afterwards (ids -> true), and its new route.
local after, route_of = {}, {}
for _, courier in ipairs(involved) do
  local set = {}
  for order in string.gmatch(held_before[courier] or '', '%S+') do set[order] = true end
  after[courier] = set
end
for n = 1, #orders do
  if froms[n] ~= '' then after[froms[n]][orders[n]] = nil end
end
for n = 1, #orders do
  after[couriers[n]][orders[n]] = 'new'
end
local gets = {}
for n = 1, #couriers do gets[couriers[n]] = true end
for i = 1, #given, 2 do
  local courier, route = given[i], given[i + 1]
  if route_of[courier] then
    reasons[#reasons + 1] = 'courier ' .. courier .. ' has two routes in the commit'
  elseif not gets[courier] then
    reasons[#reasons + 1] = 'courier ' .. courier .. ' has a route but gets no order'
  else
    route_of[courier] = route
  end
end
-- Whether the orders the couriers with a route held before are picked up: one HMGET.
local kept_before = {}
for courier in pairs(route_of) do
  for order, state in pairs(after[courier]) do
    if state ~= 'new' then kept_before[#kept_before + 1] = order end
  end
end
local kept_status = hash_values(K_STATUS, kept_before)
for courier, route in pairs(route_of) do
  local set, up, down, bad = after[courier], {}, {}, nil
  for kind, order in string.gmatch(route, '(%S)(%S*)') do
    local seen = kind == '+' and up or down
    if (kind ~= '+' and kind ~= '-') or not set[order] then
      bad = bad or (kind .. order .. ' is not a stop of an order it holds')
    elseif seen[order] then
      bad = bad or (kind .. order .. ' appears twice')
    elseif kind == '-' and not up[order]
        and (set[order] == 'new' or kept_status[order] ~= 'picked_up') then
      bad = bad or ('-' .. order .. ' comes before its pickup')
    elseif kind == '+' and down[order] then
      bad = bad or ('+' .. order .. ' is after its drop-off')
    end
    if kind == '+' or kind == '-' then seen[order] = true end
  end
  for order in pairs(set) do
    if not down[order] then bad = bad or ('-' .. order .. ' is missing') end
  end
  if bad then reasons[#reasons + 1] = 'route of courier ' .. courier .. ': ' .. bad end
end

if #reasons > 0 then
  redis.call('HINCRBY', K_STATS, 'conflicts', 1)
  table.insert(reasons, 1, 0)
  return reasons
end

local count = #orders
local fresh = 0
-- One HSET/ZREM/ZADD per chunk for every new pair; the couriers' loads and held lists
-- (re-read after the moves, if any: one HMGET each) written by one HSET per chunk.
local status_pairs, assign_pairs, opened, offered, added, targets = {}, {}, {}, {}, {}, {}
local new_status = offer_ms > 0 and 'offered' or 'assigned'
local expires = tonumber(now) * 1000 + offer_ms
for n = 1, count do
  local order, courier, from = orders[n], couriers[n], froms[n]
  local list = added[courier]
  if not list then
    list = {}
    added[courier] = list
    targets[#targets + 1] = courier
  end
  list[#list + 1] = order
  assign_pairs[#assign_pairs + 1] = order
  assign_pairs[#assign_pairs + 1] = courier
  if from ~= '' then
    if redis.call('HINCRBY', K_LOAD, from, -1) <= 0 then redis.call('HDEL', K_LOAD, from) end
    held_remove(K_HELD, from, order)
    redis.call('HINCRBY', K_MOVED, order, 1)
    if offer_ms > 0 then
      status_pairs[#status_pairs + 1] = order
      status_pairs[#status_pairs + 1] = 'offered'
      offered[#offered + 1] = expires
      offered[#offered + 1] = order
    end
  else
    fresh = fresh + 1
    status_pairs[#status_pairs + 1] = order
    status_pairs[#status_pairs + 1] = new_status
    opened[#opened + 1] = order
    if offer_ms > 0 then
      offered[#offered + 1] = expires
      offered[#offered + 1] = order
    end
  end
end
if count > 0 then
  call_chunked('HSET', K_ASSIGN, assign_pairs, 2)
  if #status_pairs > 0 then call_chunked('HSET', K_STATUS, status_pairs, 2) end
  if fresh > 0 then call_chunked('ZREM', K_OPEN, opened, 1) end
  if #offered > 0 then call_chunked('ZADD', K_OFFERS, offered, 2) end
  local load_now, held_now = load_of, held_before
  if moving then
    load_now, held_now = hash_values(K_LOAD, targets), hash_values(K_HELD, targets)
  end
  local load_pairs, held_pairs = {}, {}
  for _, courier in ipairs(targets) do
    local list, held = added[courier], held_now[courier]
    local joined = table.concat(list, ' ')
    load_pairs[#load_pairs + 1] = courier
    load_pairs[#load_pairs + 1] = tonumber(load_now[courier] or '0') + #list
    held_pairs[#held_pairs + 1] = courier
    held_pairs[#held_pairs + 1] = held and (held .. ' ' .. joined) or joined
  end
  call_chunked('HSET', K_LOAD, load_pairs, 2)
  call_chunked('HSET', K_HELD, held_pairs, 2)
end
-- Stop orders: the given ones; otherwise a stored one keeps what is still held and
-- takes the new orders last; a move's old courier drops the order's stops.
local unrouted = {}
for _, courier in ipairs(involved) do
  if not route_of[courier] then unrouted[#unrouted + 1] = courier end
end
local stored_routes = hash_values(K_ROUTES, unrouted)
local route_pairs, emptied = {}, {}
for _, courier in ipairs(involved) do
  local route = route_of[courier]
  local stored = stored_routes[courier]
  if not route and stored then
    local set, kept = after[courier], {}
    for token in string.gmatch(stored, '%S+') do
      if set[string.sub(token, 2)] == true then kept[#kept + 1] = token end
    end
    for _, order in ipairs(added[courier] or {}) do
      kept[#kept + 1] = '+' .. order
      kept[#kept + 1] = '-' .. order
    end
    route = table.concat(kept, ' ')
  end
  if route == '' then
    emptied[#emptied + 1] = courier
  elseif route then
    route_pairs[#route_pairs + 1] = courier
    route_pairs[#route_pairs + 1] = route
  end
end
if #emptied > 0 then call_chunked('HDEL', K_ROUTES, emptied, 1) end
if #route_pairs > 0 then call_chunked('HSET', K_ROUTES, route_pairs, 2) end
local expires_at = string.format('%.3f', expires / 1000)
for n = 1, count do
  local order, courier, from = orders[n], couriers[n], froms[n]
  if from ~= '' and offer_ms > 0 then
    redis.call('XADD', K_OUT, '*', 'type', 'reassignment',
      'partition', partition, 'epoch', epoch, 'tick', tick, 'task', order,
      'worker', courier, 'from', from, 'at', now, 'expires_at', expires_at)
  elseif from ~= '' then
    redis.call('XADD', K_OUT, '*', 'type', 'reassignment',
      'partition', partition, 'epoch', epoch, 'tick', tick, 'task', order,
      'worker', courier, 'from', from, 'at', now)
  elseif offer_ms > 0 then
    redis.call('XADD', K_OUT, '*', 'type', 'offer',
      'partition', partition, 'epoch', epoch, 'tick', tick, 'task', order,
      'worker', courier, 'at', now, 'expires_at', expires_at)
  else
    redis.call('XADD', K_OUT, '*', 'type', 'assignment',
      'partition', partition, 'epoch', epoch, 'tick', tick, 'task', order,
      'worker', courier, 'at', now)
  end
end
-- One trim per tick (with the marker) instead of one per entry.
local marker = redis.call('XADD', K_OUT, 'MAXLEN', '~', maxlen, '*', 'type', 'tick',
  'partition', partition, 'epoch', epoch, 'tick', tick, 'assignments', count, 'at', now)
redis.call('HSET', K_STATS, 'last_tick_at', now, 'tick', tick, 'last_epoch', epoch)
redis.call('HINCRBY', K_STATS, 'commits', 1)
redis.call('HINCRBY', K_STATS, 'assigned', fresh)
if count > fresh then redis.call('HINCRBY', K_STATS, 'reassigned', count - fresh) end
return {1, marker}
