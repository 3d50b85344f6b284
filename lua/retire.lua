-- retire.lua: a finished sale is retired: every lasting key of one concert is
-- deleted (the keys share the concert's hash tag, so one script reaches them
-- all, also on a Redis Cluster). Keys that expire on their own (reservations,
-- seat holds, attempts' replies) have expired long before.
--
-- Safe to send twice by construction: a second run finds nothing to delete.
--
-- KEYS: every lasting key of the concert (`ConcertKeys::lasting`), the first
--       the idle-bucket index, whose buckets (named from it) go first
-- ARGV: none
-- Returns: how many keys existed and were deleted
local deleted = drop_idle_buckets(KEYS[1])
for i = 1, #KEYS do
  deleted = deleted + redis.call('UNLINK', KEYS[i])
end
return deleted
