-- What the idle-tick scripts (work_idle.lua, city_idle.lua) share: whether the incoming
-- stream holds an entry past the owner's cursor, and the tick marker of an idle tick.

-- True when the stream k_in has an entry after `cursor` ('' = none applied yet).
local function events_waiting(k_in, cursor)
  local first
  if cursor == '' then
    first = redis.call('XRANGE', k_in, '-', '+', 'COUNT', 1)
  else
    first = redis.call('XRANGE', k_in, '(' .. cursor, '+', 'COUNT', 1)
  end
  return #first > 0
end

-- Record an idle tick exactly as an empty commit records a tick (city_commit.lua): a
-- 'tick' marker with no assignment on the out stream, and last_tick_at, tick and
-- last_epoch in stats; 'idle_ticks' counts the ticks recorded this way. Returns the
-- marker's id.
local function mark_idle_tick(k_stats, k_out, partition, epoch, tick, now, maxlen)
  local marker = redis.call('XADD', k_out, 'MAXLEN', '~', maxlen, '*', 'type', 'tick',
    'partition', partition, 'epoch', epoch, 'tick', tick, 'assignments', 0, 'at', now)
  redis.call('HSET', k_stats, 'last_tick_at', now, 'tick', tick, 'last_epoch', epoch)
  redis.call('HINCRBY', k_stats, 'commits', 1)
  redis.call('HINCRBY', k_stats, 'idle_ticks', 1)
  return marker
end
