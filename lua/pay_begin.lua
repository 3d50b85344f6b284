-- pay_begin.lua: the Redis half of a payment's start: claims the reservation for one attempt.
--
-- Marks the reservation 'paying' so a concurrent second attempt is refused, and
-- extends its holds, the reservation and the user's admission so none can
-- expire while PostgreSQL commits. Extensions never shorten: if the payment is
-- aborted (pay_abort), the reservation stays held, and the user's one open
-- reservation, until the later of its hold's end and the extension's.
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 res, 5 held, 6 user-res, 7.. one hold key per seat
-- ARGV: 1 user id, 2 token jti, 3 reservation id, 4 extension ms, 5.. seat numbers
-- Returns: 'paying' | 'waiting' | 'expired' (token) | 'not_found' | 'forbidden'
--   | 'payment_in_progress' | 'hold_lost' (a hold ended under the reservation)
local now_ms = redis_now()
local user, jti, reservation_id = ARGV[1], ARGV[2], ARGV[3]
local extend_ms = tonumber(ARGV[4])

local state = admission_state(KEYS[1], KEYS[2], KEYS[3], user, jti, now_ms)
if state ~= 'active' then
  return state
end
local refusal = reservation_refusal(KEYS[4], user)
if refusal then
  return refusal
end
for i = 7, #KEYS do
  if redis.call('GET', KEYS[i]) ~= reservation_id then
    return 'hold_lost'
  end
end

local until_ms = int_str(now_ms + extend_ms)
for i = 7, #KEYS do
  redis.call('PEXPIRE', KEYS[i], extend_ms, 'GT')
  redis.call('ZADD', KEYS[5], 'GT', until_ms, ARGV[i - 2])
end
redis.call('PEXPIRE', KEYS[4], extend_ms, 'GT')
local held_until_ms = tonumber(redis.call('HGET', KEYS[4], 'held_until_ms')) or 0
redis.call('HSET', KEYS[4], 'status', 'paying')
redis.call('HSET', KEYS[6], user,
  reservation_id .. '|' .. int_str(math.max(held_until_ms, now_ms + extend_ms)))
redis.call('ZADD', KEYS[2], 'GT', until_ms, user)
return 'paying'
