-- pay_begin.lua: the Redis half of a payment's start: claims the reservation for one attempt.
--
-- Marks the reservation 'paying' with the attempt's id, so a concurrent second
-- attempt is refused and only this attempt may hand it back (pay_abort.lua),
-- and extends its holds, the reservation and the user's admission so none can
-- expire while PostgreSQL commits. This extension is the one way past the
-- admission's deadline (see hold.lua), and only for a payment begun before it.
-- Extensions never shorten: if the payment is aborted, the reservation stays
-- held, and the user's one open reservation, until the later of its hold's end
-- and the extension's.
--
-- Safe to send twice: a re-send of the same attempt (the first reply was lost)
-- finds its own claim and answers 'paying' again.
--
-- A claim lapses once the payment timeout has passed since it was made
-- (`claim_until_ms`): its attempt's server died before deciding, or will find
-- the reservation paid by another attempt (PostgreSQL keeps one payment per
-- reservation), so another attempt of the holder may take the claim over
-- instead of waiting for the hold to end. The server first checks that
-- PostgreSQL has no payment for it (a paid one is ended as paid).
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 res, 5 held, 6 user-res, 7 holders, 8.. one hold key per seat
-- ARGV: 1 user id, 2 token jti, 3 reservation id, 4 extension ms, 5 attempt id, 6.. seat numbers
-- Returns: 'paying' | 'waiting' | 'expired' (token) | 'not_found' | 'forbidden'
--   | 'payment_in_progress' | 'hold_lost' (a hold ended under the reservation)
local now_ms = redis_now()
local user, jti, reservation_id = ARGV[1], ARGV[2], ARGV[3]
local extend_ms = tonumber(ARGV[4])
local attempt = ARGV[5]
local first_hold = 8

local claim = redis.call('HMGET', KEYS[4], 'user_id', 'status', 'attempt', 'claim_until_ms')
if claim[1] == user and claim[2] == 'paying' and claim[3] == attempt then
  return 'paying'
end

local state = admission_state(KEYS[1], KEYS[2], KEYS[3], user, jti, now_ms)
if state ~= 'active' then
  return state
end
local claim_until = tonumber(claim[4])
local lapsed = claim_until ~= nil and claim_until <= now_ms
local refusal = reservation_refusal(KEYS[4], user)
if refusal and not (refusal == 'payment_in_progress' and lapsed) then
  return refusal
end
for i = first_hold, #KEYS do
  if redis.call('GET', KEYS[i]) ~= reservation_id then
    return 'hold_lost'
  end
end

local until_ms = int_str(now_ms + extend_ms)
for i = first_hold, #KEYS do
  redis.call('PEXPIRE', KEYS[i], extend_ms, 'GT')
  redis.call('ZADD', KEYS[5], 'GT', until_ms, ARGV[i - first_hold + 6])
end
redis.call('PEXPIRE', KEYS[4], extend_ms, 'GT')
local held_until_ms = tonumber(redis.call('HGET', KEYS[4], 'held_until_ms')) or 0
redis.call('HSET', KEYS[4], 'status', 'paying', 'attempt', attempt, 'claim_until_ms', until_ms)
note_reservation(KEYS[6], KEYS[7], user, reservation_id,
  int_str(math.max(held_until_ms, now_ms + extend_ms)))
redis.call('ZADD', KEYS[2], 'GT', until_ms, user)
return 'paying'
