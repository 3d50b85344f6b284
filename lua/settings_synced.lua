-- settings_synced.lua: PostgreSQL has stored the settings of `version`: the
-- pending marker is cleared, unless a later change has replaced it (that one
-- is still to be written).
--
-- Safe to send twice by construction: a second run finds the marker gone, or
-- another version's.
--
-- KEYS: 1 cfg
-- ARGV: 1 the version PostgreSQL stored
-- Returns: 1 if the marker was cleared, 0 if it was not this version's
if redis.call('HGET', KEYS[1], 'pending') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'pending')
  return 1
end
return 0
