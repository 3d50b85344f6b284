-- join.lua: puts a user in a concert's line, or returns the place they already have.
--
-- Idempotent per user and concert: a waiting user keeps their order number, an
-- admitted user keeps their admission. A user whose admission ended joins anew
-- at the back. Order numbers are Redis time in microseconds, bumped past the
-- previous one, so they are unique, increasing, and double as the queue token's
-- jti and issue time.
--
-- Joining counts as a poll: it is recorded in the idle bucket of now (see
-- note_poll in _lib.lua), so the admit script knows they are there (see
-- admit.lua on idle waiters).
--
-- The line's facts may come from the caller's cache, as in status.lua (ARGV 7).
--
-- Sent once (see once in _lib.lua): a re-send answers as the first run did, so a
-- new place stays 'new'.
--
-- KEYS: 1 wait (ZSET user -> order), 2 active (ZSET user -> expiry ms),
--       3 jti (HASH user -> jti), 4 seq (STRING last order), 5 cfg (HASH settings),
--       6 idle (ZSET bucket -> end ms, see _lib.lua), 7 line-stats (HASH, `sold_out` set by the admit tick),
--       8 draw (ZSET), 9 drawn (marker)
-- ARGV: 1 user id, defaults of settings missing from cfg: 2 max_waiting (0 = no cap),
--       3 admit_per_second, 4 idle_timeout_ms, 5 poll_budget_per_second;
--       6 the concert's opens_at in microseconds; 7 the idle bucket width in ms,
--       or 0 to read the line facts, compute it from them and return them
--
-- Joining before the opening puts the user in the pre-queue: their order among
-- its members is drawn at the opening, so their position reads 0 until then.
-- Returns: {placed, jti, then the place as status.lua returns it: state, position,
--   active_remaining_ms, line_facts (see _lib.lua) when ARGV 7 is 0} where placed is 'new' or 'kept'
--   (an existing place, unchanged) and state is 'waiting', 'sold_out' (waiting while
--   no seat is free, see waiting_state in _lib.lua) or 'active'; or {'queue_full'},
--   or {'sale_closed'} once an operator closed the sale.
local now_ms, now_us = redis_now()
local user = ARGV[1]
local cfg = redis.call('HMGET', KEYS[5], 'max_waiting', 'closed')
local max_waiting = tonumber(cfg[1]) or tonumber(ARGV[2])
if cfg[2] == '1' then
  return {'sale_closed'}
end
local width_ms = tonumber(ARGV[7])
local facts = {}
if width_ms == 0 then
  facts = line_facts(KEYS[5], KEYS[7], KEYS[1], ARGV[3], ARGV[4], ARGV[5])
  width_ms = idle_bucket_width_ms(idle_in_force_ms(tonumber(facts[2]), tonumber(facts[3]), facts[6]))
end
local function reply(placed, jti, state, position, remaining_ms)
  if #facts > 0 then
    -- The line's length as it is now, the new place counted.
    facts[6] = redis.call('ZCARD', KEYS[1])
  end
  return append({placed, jti, state, position, remaining_ms}, facts)
end

local until_ms = tonumber(redis.call('ZSCORE', KEYS[2], user))
if until_ms then
  local jti = redis.call('HGET', KEYS[3], user)
  if until_ms > now_ms and jti then
    return reply('kept', jti, 'active', 0, until_ms - now_ms)
  end
  redis.call('ZREM', KEYS[2], user)
  redis.call('HDEL', KEYS[3], user)
end

local order = redis.call('ZSCORE', KEYS[1], user)
if order then
  note_poll(KEYS[6], order, now_ms, width_ms, false)
  return reply('kept', order, waiting_state(KEYS[7]), line_position(KEYS[1], KEYS[8], KEYS[9], user, ARGV[6]), 0)
end

local waiting = redis.call('ZCARD', KEYS[1])
if max_waiting > 0 and waiting >= max_waiting then
  return {'queue_full'}
end

local last = tonumber(redis.call('GET', KEYS[4])) or 0
local jti = int_str(math.max(now_us, last + 1))
redis.call('SET', KEYS[4], jti)
redis.call('ZADD', KEYS[1], jti, user)
note_poll(KEYS[6], jti, now_ms, width_ms, true)
return reply('new', jti, waiting_state(KEYS[7]), line_position(KEYS[1], KEYS[8], KEYS[9], user, ARGV[6]), 0)
