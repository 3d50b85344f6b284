-- status.lua: where a queue token stands, in one round trip.
--
-- A waiting user's poll is recorded as their last-seen time, so the admit
-- script can tell people still there from people who closed their tab.
--
-- A waiting place of a sold-out concert (no seat neither sold nor held, as the
-- admit tick last found) reads 'sold_out' and keeps its position: should seats
-- come back, it reads 'waiting' again in the same order.
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 cfg, 5 seen (ZSET user -> last poll ms), 6 line-stats
-- ARGV: 1 user id, 2 token jti, 3 default admit_per_second, 4 default idle_timeout_ms
-- Returns: {state, position, active_remaining_ms, admit_per_second, idle_timeout_ms} with state
--   'waiting' or 'sold_out' (position is 1-based), 'active' or 'expired' (position 0).
local now_ms = redis_now()
local cfg = redis.call('HMGET', KEYS[4], 'admit_per_second', 'idle_timeout_ms')
local rate = cfg[1] or ARGV[3]
local idle_ms = cfg[2] or ARGV[4]
local state, until_ms = admission_state(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], now_ms)
if state == 'waiting' then
  redis.call('ZADD', KEYS[5], now_ms, ARGV[1])
  if redis.call('HGET', KEYS[6], 'sold_out') == '1' then
    state = 'sold_out'
  end
  return {state, redis.call('ZRANK', KEYS[1], ARGV[1]) + 1, 0, rate, idle_ms}
elseif state == 'active' then
  return {state, 0, until_ms - now_ms, rate, idle_ms}
end
return {state, 0, 0, rate, idle_ms}
