-- join.lua: puts a user in a concert's line, or returns the place they already have.
--
-- Idempotent per user and concert: a waiting user keeps their order number, an
-- admitted user keeps their admission. A user whose admission ended joins anew
-- at the back. Order numbers are Redis time in microseconds, bumped past the
-- previous one, so they are unique, increasing, and double as the queue token's
-- jti and issue time.
--
-- Joining counts as a poll: the user's last-seen time is recorded, so the
-- admit script knows they are there (see admit.lua on idle waiters).
--
-- KEYS: 1 wait (ZSET user -> order), 2 active (ZSET user -> expiry ms),
--       3 jti (HASH user -> jti), 4 seq (STRING last order), 5 cfg (HASH settings),
--       6 seen (ZSET user -> last poll ms), 7 line-stats (HASH, `sold_out` set by the admit tick)
-- ARGV: 1 user id, 2 default max_waiting (0 = no cap), 3 default admit_per_second,
--       4 default idle_timeout_ms
-- Returns: {state, jti, position, active_remaining_ms, admit_per_second, idle_timeout_ms,
--   sold_out (1 when no seat is free: a waiting place then reads 'sold_out')} where state is
--   'joined' (new place), 'waiting' or 'active' (existing); or {'queue_full'}, or
--   {'sale_closed'} once an operator closed the sale.
local now_ms, now_us = redis_now()
local user = ARGV[1]
local cfg = redis.call('HMGET', KEYS[5], 'max_waiting', 'admit_per_second', 'closed', 'idle_timeout_ms')
local max_waiting = tonumber(cfg[1]) or tonumber(ARGV[2])
local rate = cfg[2] or ARGV[3]
local idle_ms = cfg[4] or ARGV[4]
local sold_out = redis.call('HGET', KEYS[7], 'sold_out') == '1' and 1 or 0
if cfg[3] == '1' then
  return {'sale_closed'}
end

local until_ms = tonumber(redis.call('ZSCORE', KEYS[2], user))
if until_ms then
  local jti = redis.call('HGET', KEYS[3], user)
  if until_ms > now_ms and jti then
    return {'active', jti, 0, until_ms - now_ms, rate, idle_ms, 0}
  end
  redis.call('ZREM', KEYS[2], user)
  redis.call('HDEL', KEYS[3], user)
end

local order = redis.call('ZSCORE', KEYS[1], user)
if order then
  redis.call('ZADD', KEYS[6], now_ms, user)
  return {'waiting', order, redis.call('ZRANK', KEYS[1], user) + 1, 0, rate, idle_ms, sold_out}
end

local waiting = redis.call('ZCARD', KEYS[1])
if max_waiting > 0 and waiting >= max_waiting then
  return {'queue_full'}
end

local last = tonumber(redis.call('GET', KEYS[4])) or 0
local jti = int_str(math.max(now_us, last + 1))
redis.call('SET', KEYS[4], jti)
redis.call('ZADD', KEYS[1], jti, user)
redis.call('ZADD', KEYS[6], now_ms, user)
return {'joined', jti, redis.call('ZRANK', KEYS[1], user) + 1, 0, rate, idle_ms, sold_out}
