-- pay_finish.lua: the Redis half of a decided payment; safe to run again until it lands.
--
-- outcome 'paid': the seats become sold, the holds and the reservation end, and
--   the queue token expires.
-- outcome 'failed' (insufficient balance): the same without selling the seats.
-- outcome 'released' (PostgreSQL found a seat already sold): the reservation
--   ends, the token stays admitted so its holder can choose again.
-- The token is expired only while the user's current jti is still this one, so a
-- late retry never ends a later admission.
--
-- Safe to send twice by construction: a second run finds the holds and the
-- reservation gone and adds sold seats that are there already.
--
-- KEYS: 1 active, 2 jti, 3 user-res, 4 res, 5 sold, 6 held, 7 holders, 8 deadlines,
--       9.. one hold key per seat
-- ARGV: 1 user id, 2 token jti, 3 reservation id, 4 outcome, 5.. seat numbers
-- Returns: 1
local user, jti, reservation_id, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local seats = {unpack(ARGV, 5)}
if outcome == 'paid' then
  call_chunked('SADD', KEYS[5], seats)
end
drop_holds(KEYS[6], 9, seats, reservation_id)
redis.call('DEL', KEYS[4])
forget_reservation(KEYS[3], KEYS[7], user, reservation_id)
if outcome ~= 'released' and redis.call('HGET', KEYS[2], user) == jti then
  redis.call('ZREM', KEYS[1], user)
  redis.call('HDEL', KEYS[2], user)
  redis.call('ZREM', KEYS[8], user)
end
return 1
