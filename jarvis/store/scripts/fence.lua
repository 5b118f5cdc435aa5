-- Fencing prelude, prepended to every mutating script of a partition.
-- Epochs are 64-bit ZooKeeper zxids; Lua numbers are doubles, so epochs travel and are
-- compared as decimal strings without leading zeros: by length first, then as text.
local function epoch_less(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end

-- Check ARGV epoch against the highest seen at epoch_key; raise FENCED if lower,
-- record it if higher. Returns nothing; on refusal the whole script stops here, before
-- any write, so a fenced call changes nothing but the refusal counter.
local function fence(epoch_key, stats_key, epoch)
  if not string.match(epoch, '^[1-9][0-9]*$') and epoch ~= '0' then
    return redis.error_reply('BADEPOCH ' .. tostring(epoch))
  end
  local highest = redis.call('GET', epoch_key)
  if highest and epoch_less(epoch, highest) then
    redis.call('HINCRBY', stats_key, 'fenced', 1)
    return redis.error_reply('FENCED ' .. highest)
  end
  if (not highest) or epoch_less(highest, epoch) then
    redis.call('SET', epoch_key, epoch)
  end
  return nil
end
