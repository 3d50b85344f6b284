-- settings_set.lua: an operator's change of a line's settings takes effect:
-- the fields are written to the live `cfg` hash every server and script
-- reads, and the change is marked pending until it reaches PostgreSQL
-- (`settings_changed` in _lib.lua: a new `version`, kept in `pending`).
--
-- Safe to send twice by construction: the same fields are written again, and
-- the new version only makes the sync write the same settings once more.
--
-- KEYS: 1 cfg
-- ARGV: field, value, field, value, ... (the names `QueueSettings::to_redis_fields` gives;
--       only the settings the change names, so another change of other settings
--       made at the same time on another server stays)
-- Returns: the version of the settings now in force
redis.call('HSET', KEYS[1], unpack(ARGV))
return int_str(settings_changed(KEYS[1]))
