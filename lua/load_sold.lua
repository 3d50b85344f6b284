-- load_sold.lua: copies a schedule's sold seats from PostgreSQL into Redis and marks
-- them loaded, in one step, so no hold can see the marker without the seats.
-- Safe to send twice by construction: the same seats and marker again.
--
-- KEYS: 1 sold (SET), 2 sold-loaded
-- ARGV: seat numbers sold according to PostgreSQL (may be none)
-- Returns: the number of seats in the sold set afterwards
if #ARGV > 0 then
  call_chunked('SADD', KEYS[1], ARGV)
end
redis.call('SET', KEYS[2], '1')
return redis.call('SCARD', KEYS[1])
