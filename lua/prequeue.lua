-- prequeue.lua: who is in the pre-queue, once it is time for its draw.
-- It only reads, so it is safe to send twice.
--
-- The pre-queue is everyone whose order number (Redis time in microseconds at
-- their join) is below the opening's; once Redis time has passed the opening,
-- nobody can join it any more, so the list read here is final (but for people
-- who leave before the draw lands, whom draw.lua skips).
--
-- KEYS: 1 wait, 2 drawn (marker)
-- ARGV: 1 opens_at in microseconds
-- Returns: {'drawn'} (already made) | {'not_open'} (Redis time is before the
--   opening) | {'members', {user...}}
local _, now_us = redis_now()
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'drawn'}
end
if now_us < tonumber(ARGV[1]) then
  return {'not_open'}
end
return {'members', redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])}
