-- pay_abort.lua: hands a reservation back to its holder when a payment attempt
-- could not be decided (PostgreSQL unreachable, or the claim's own reply lost):
-- 'paying' becomes 'held' again, so it can be paid or released; the holds keep
-- the time pay_begin gave them.
--
-- Only the attempt that claimed it hands it back, so a late or re-sent abort
-- never frees a later attempt's claim; which also makes it safe to send twice.
--
-- KEYS: 1 res
-- ARGV: 1 attempt id (as pay_begin was given)
-- Returns: 1 if the reservation was paying for this attempt (and is held again), else 0
local claim = redis.call('HMGET', KEYS[1], 'status', 'attempt')
if claim[1] == 'paying' and claim[2] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'status', 'held')
  return 1
end
return 0
