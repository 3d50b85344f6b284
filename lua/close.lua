-- close.lua: an operator ends a sale: no more joins, admissions or holds, and
-- the line is dismissed (every waiting ticket reads 'expired'). Admitted people
-- keep what they hold and may pay for it until their hold ends. The closing
-- time (Redis time, the first close's) is kept in `cfg` with the settings and
-- marked pending until PostgreSQL has it (`settings_changed` in _lib.lua).
--
-- KEYS: 1 cfg, 2 wait
-- ARGV: none
-- Returns: {how many people were waiting, the closing time in ms}
local now_ms = redis_now()
if not redis.call('HGET', KEYS[1], 'closed_at_ms') then
  redis.call('HSET', KEYS[1], 'closed_at_ms', int_str(now_ms))
end
redis.call('HSET', KEYS[1], 'closed', '1')
settings_changed(KEYS[1])
local waiting = redis.call('ZCARD', KEYS[2])
redis.call('DEL', KEYS[2])
return {waiting, tonumber(redis.call('HGET', KEYS[1], 'closed_at_ms'))}
