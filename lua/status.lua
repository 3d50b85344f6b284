-- status.lua: where a queue token stands, in one round trip.
--
-- A waiting user's poll is recorded in the idle bucket of now (see note_poll in
-- _lib.lua), so the admit script can tell people still there from people who
-- closed their tab.
--
-- A waiting place of a sold-out concert reads 'sold_out' and keeps its position
-- (see waiting_state in _lib.lua); join reports it the same way.
--
-- A pre-queue member's position reads 0 until the draw (see line_position in _lib.lua).
--
-- The line's facts (settings, measured rate, length) change slowly and are the
-- same for everyone: a server that read them less than a fraction of a second
-- ago passes the idle bucket width it computed from them (ARGV 7) and gets a
-- reply without them. The position is always read here, exact.
--
-- Safe to send twice by construction: a re-sent poll is a later poll.
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 cfg, 5 idle (ZSET bucket -> end ms, see _lib.lua),
--       6 line-stats, 7 draw (ZSET), 8 drawn (marker)
-- ARGV: 1 user id, 2 token jti, defaults of settings missing from cfg:
--       3 admit_per_second, 4 idle_timeout_ms, 5 poll_budget_per_second;
--       6 the concert's opens_at in microseconds; 7 the idle bucket width in ms,
--       or 0 to read the line facts, compute it from them and return them
-- Returns: {state, position, active_remaining_ms, then line_facts (see _lib.lua)
--   when ARGV 7 is 0} with state 'waiting' or 'sold_out' (position is 1-based, 0
--   in an undrawn pre-queue), 'active' or 'expired' (position 0).
local now_ms = redis_now()
local width_ms = tonumber(ARGV[7])
local facts = {}
if width_ms == 0 then
  facts = line_facts(KEYS[4], KEYS[6], KEYS[1], ARGV[3], ARGV[4], ARGV[5])
  width_ms = idle_bucket_width_ms(idle_in_force_ms(tonumber(facts[2]), tonumber(facts[3]), facts[6]))
end
local state, until_ms = admission_state(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], now_ms)
if state == 'waiting' then
  note_poll(KEYS[5], ARGV[2], now_ms, width_ms, false)
  return append({waiting_state(KEYS[6]), line_position(KEYS[1], KEYS[7], KEYS[8], ARGV[1], ARGV[6]), 0}, facts)
elseif state == 'active' then
  return append({state, 0, until_ms - now_ms}, facts)
end
return append({state, 0, 0}, facts)
