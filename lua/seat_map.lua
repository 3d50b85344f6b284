-- seat_map.lua: the sold and held seats of one schedule, for an admitted user.
-- It only reads, so it is safe to send twice.
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 sold, 5 sold-loaded, 6 held
-- ARGV: 1 user id, 2 token jti
-- Returns: {'ok', {sold seat...}, {held seat...}} | {'waiting'} | {'expired'}
--   | {'sold_not_loaded'}
local now_ms = redis_now()
local state = admission_state(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], now_ms)
if state ~= 'active' then
  return {state}
end
if redis.call('EXISTS', KEYS[5]) == 0 then
  return {'sold_not_loaded'}
end
return {'ok', redis.call('SMEMBERS', KEYS[4]), redis.call('ZRANGEBYSCORE', KEYS[6], '(' .. now_ms, '+inf')}
