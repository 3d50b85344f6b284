-- draw.lua: applies the pre-queue's drawn order, exactly once.
--
-- Every server may compute the same draw (from the list recorded in PostgreSQL
-- and the concert's seed); the first to get here applies it and sets the marker,
-- the others find the marker and change nothing. People of the list who have
-- left the line meanwhile are skipped; everyone else gets their drawn rank.
-- For the same reason it is safe to send twice.
--
-- KEYS: 1 wait, 2 draw (ZSET user -> drawn rank), 3 drawn (marker)
-- ARGV: 1 opens_at in microseconds, 2.. user ids in the drawn order
-- Returns: how many were placed, or -1 if the draw had been applied already
if redis.call('EXISTS', KEYS[3]) == 1 then
  return -1
end
local opens_at_us = tonumber(ARGV[1])
local ranked = {}
for i = 2, #ARGV do
  local order = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[i]))
  if order and order < opens_at_us then
    ranked[#ranked + 1] = i - 1
    ranked[#ranked + 1] = ARGV[i]
  end
end
call_chunked('ZADD', KEYS[2], ranked)
redis.call('SET', KEYS[3], '1')
return #ranked / 2
