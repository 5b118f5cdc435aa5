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
