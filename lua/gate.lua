-- gate.lua: whether an admission is still live, for the gate that reverse
-- proxies ask (GET /api/v1/gate/{concert_id}). Reads only.
--
-- The admission token's user must be admitted (in `active`, its end still
-- ahead) with the token's jti as their current one (admission_state in
-- _lib.lua), and the sale must not be closed: a payment, the admission's end,
-- an eviction, leaving, a re-join and an operator's close all end it.
--
-- Safe to send twice by construction: it changes nothing.
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 cfg
-- ARGV: 1 user id, 2 the admission token's jti
-- Returns: the admission's remaining milliseconds (> 0) when it is live, 0 otherwise.
if redis.call('HGET', KEYS[4], 'closed') == '1' then
  return 0
end
local now_ms = redis_now()
local state, until_ms = admission_state(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], now_ms)
if state == 'active' then
  return until_ms - now_ms
end
return 0
