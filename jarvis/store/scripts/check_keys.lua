-- Key checker, put in front of a script by source(spec, check_keys=True) (tests).
-- Shadows `redis` for the rest of the script: every call must name its key(s) from
-- KEYS, and all KEYS of the call must share one hash tag (one Redis Cluster slot).
-- Every command the scripts use takes its key first; DEL and EXISTS take only keys.
local redis = (function(real)
  local declared, slot = {}, nil
  local function tag(key)
    local t = string.match(key, '{(.-)}')
    if t == nil or t == '' then return key end
    return t
  end
  for _, key in ipairs(KEYS) do
    declared[key] = true
    if slot == nil then slot = tag(key) end
    if tag(key) ~= slot then
      error('CROSSSLOT keys ' .. KEYS[1] .. ' and ' .. key .. ' have different hash tags')
    end
  end
  local function check(args)
    local last = 2
    local cmd = string.upper(args[1])
    if cmd == 'DEL' or cmd == 'EXISTS' then last = #args end
    for i = 2, last do
      if not declared[args[i]] then
        error('UNDECLARED ' .. cmd .. ' on key ' .. tostring(args[i]) .. ' not in KEYS')
      end
    end
  end
  return setmetatable({
    call = function(...) check({...}); return real.call(...) end,
    pcall = function(...) check({...}); return real.pcall(...) end,
  }, {__index = real})
end)(redis)
