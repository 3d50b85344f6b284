-- evict.lua: an operator removes one person from a concert's line or admission.
--
-- Sent once (see once in _lib.lua): a re-send answers where they were and their
-- open reservation again, not 'absent'.
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 user-res, 5 draw (the pre-queue's drawn order), 6 deadlines
-- ARGV: 1 user id
-- Returns: {was, reservation_id} where was is 'waiting', 'active' or 'absent',
--   and reservation_id is the open reservation the server must release ('' if none).
local now_ms = redis_now()
local user = ARGV[1]
local was = 'absent'
if redis.call('ZREM', KEYS[1], user) == 1 then
  was = 'waiting'
end
redis.call('ZREM', KEYS[5], user)
local until_ms = tonumber(redis.call('ZSCORE', KEYS[2], user))
if until_ms then
  redis.call('ZREM', KEYS[2], user)
  redis.call('HDEL', KEYS[3], user)
  redis.call('ZREM', KEYS[6], user)
  if until_ms > now_ms then
    was = 'active'
  end
end
return {was, open_reservation(KEYS[4], user, now_ms) or ''}
