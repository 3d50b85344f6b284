-- pay_abort.lua: hands a reservation back to its holder when a payment could not be
-- decided (PostgreSQL unreachable): 'paying' becomes 'held' again, so it can be paid
-- or released; the holds keep the time pay_begin gave them.
--
-- KEYS: 1 res
-- ARGV: none
-- Returns: 1 if the reservation was paying, else 0
if redis.call('HGET', KEYS[1], 'status') == 'paying' then
  redis.call('HSET', KEYS[1], 'status', 'held')
  return 1
end
return 0
