-- close.lua: an operator ends a sale: no more joins, admissions or holds, and
-- the line is dismissed (every waiting ticket reads 'expired'). Admitted people
-- keep what they hold and may pay for it until their hold ends.
--
-- KEYS: 1 cfg, 2 wait
-- ARGV: none
-- Returns: how many people were waiting
redis.call('HSET', KEYS[1], 'closed', '1')
local waiting = redis.call('ZCARD', KEYS[2])
redis.call('DEL', KEYS[2])
return waiting
