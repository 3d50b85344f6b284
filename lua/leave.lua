-- leave.lua: a user leaves the line, or gives up their admission.
--
-- Sent once (see once in _lib.lua): a re-send answers 'left' again, not 'expired'.
-- An 'expired' answer changed nothing and is not kept: a token that is no longer
-- current never is again, so a re-send answers 'expired' too, and a client that
-- sends a spent token's leave again and again leaves no reply behind in Redis.
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 draw (the pre-queue's drawn order), 5 deadlines
-- ARGV: 1 user id, 2 token jti
-- Returns: 'left' | 'expired' (the token was no longer current)
local user, jti = ARGV[1], ARGV[2]
local order = redis.call('ZSCORE', KEYS[1], user)
if order and tonumber(order) == tonumber(jti) then
  redis.call('ZREM', KEYS[1], user)
  redis.call('ZREM', KEYS[4], user)
  return 'left'
end
if redis.call('HGET', KEYS[3], user) == jti then
  redis.call('ZREM', KEYS[2], user)
  redis.call('HDEL', KEYS[3], user)
  redis.call('ZREM', KEYS[5], user)
  return 'left'
end
return 'expired', UNCHANGED
