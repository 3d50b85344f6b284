-- status.lua: where a queue token stands, in one round trip.
--
-- A waiting user's poll is recorded as their last-seen time, so the admit
-- script can tell people still there from people who closed their tab.
--
-- A waiting place of a sold-out concert reads 'sold_out' and keeps its position
-- (see waiting_state in _lib.lua); join reports it the same way.
--
-- A pre-queue member's position reads 0 until the draw (see line_position in _lib.lua).
--
-- Safe to send twice by construction: a re-sent poll is a later poll.
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 cfg, 5 seen (ZSET user -> last poll ms), 6 line-stats,
--       7 draw (ZSET), 8 drawn (marker)
-- ARGV: 1 user id, 2 token jti, defaults of settings missing from cfg:
--       3 admit_per_second, 4 idle_timeout_ms, 5 poll_budget_per_second;
--       6 the concert's opens_at in microseconds
-- Returns: {state, position, active_remaining_ms, then line_facts (see _lib.lua)} with
--   state 'waiting' or 'sold_out' (position is 1-based, 0 in an undrawn pre-queue), 'active' or 'expired' (position 0).
local now_ms = redis_now()
local facts = line_facts(KEYS[4], KEYS[6], KEYS[1], ARGV[3], ARGV[4], ARGV[5])
local state, until_ms = admission_state(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], now_ms)
if state == 'waiting' then
  redis.call('ZADD', KEYS[5], now_ms, ARGV[1])
  return append({waiting_state(KEYS[6]), line_position(KEYS[1], KEYS[7], KEYS[8], ARGV[1], ARGV[6]), 0}, facts)
elseif state == 'active' then
  return append({state, 0, until_ms - now_ms}, facts)
end
return append({state, 0, 0}, facts)
