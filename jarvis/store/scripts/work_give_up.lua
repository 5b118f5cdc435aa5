-- A waiting get-work request stops waiting: it leaves the waiting set, and takes the
-- claim the owner may have made for it meanwhile (or nil).
-- KEYS and ARGV: WORK_GIVE_UP in jarvis/store/specs.py.
-- Atomic, so a claim is either made before (and returned here) or not at all: the
-- owner's claim script refuses a request that no longer waits.
redis.call('ZREM', KEYS[1], ARGV[1])
local reply = redis.call('LPOP', KEYS[2])
redis.call('DEL', KEYS[2])
return reply
