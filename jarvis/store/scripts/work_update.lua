-- Update a work item in place (priority, due time, duration): update in work_lib.lua.
-- KEYS and ARGV: WORK_UPDATE in jarvis/store/specs.py. KEYS 'queue' is the queue of the
-- item's class. Returns what update returns (1 queued, 2 claimed, 3 dead, 0 unknown,
-- -1 changed meanwhile: nothing written, the caller reads again).
return update(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
