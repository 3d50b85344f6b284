-- status.lua: where a queue token stands, in one round trip.
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 cfg
-- ARGV: 1 user id, 2 token jti, 3 default admit_per_second
-- Returns: {state, position, active_remaining_ms, admit_per_second} with state
--   'waiting' (position is 1-based), 'active' or 'expired' (position 0).
local now_ms = redis_now()
local rate = redis.call('HGET', KEYS[4], 'admit_per_second') or ARGV[3]
local state, until_ms = admission_state(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], now_ms)
if state == 'waiting' then
  return {state, redis.call('ZRANK', KEYS[1], ARGV[1]) + 1, 0, rate}
elseif state == 'active' then
  return {state, 0, until_ms - now_ms, rate}
end
return {state, 0, 0, rate}
