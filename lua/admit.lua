-- admit.lua: one admission tick for one concert; every server runs it every admit interval.
--
-- First drops admissions that have ended (and their reservation entries), then
-- refills a token bucket kept in Redis at admit_per_second (capped at one
-- second's worth, starting empty), then moves min(floor(tokens), room in the
-- active set) users from the head of the line to the active set. Because the
-- bucket lives here, N servers together admit at the configured rate.
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 cfg, 5 bucket (HASH tokens, ts_us), 6 user-res
-- ARGV: defaults for settings missing from cfg: 1 admit_per_second, 2 max_active,
--       3 active_ttl_ms, 4 paused (0 or 1)
-- Returns: {admitted, expired_dropped, waiting, active, admit_per_second, max_active,
--   paused (0 or 1)}: the outcome and the settings it ran with, for the metrics.
local now_ms, now_us = redis_now()
local cfg = redis.call('HMGET', KEYS[4], 'admit_per_second', 'max_active', 'active_ttl_ms', 'paused', 'closed')
local rate = tonumber(cfg[1]) or tonumber(ARGV[1])
local max_active = tonumber(cfg[2]) or tonumber(ARGV[2])
local ttl_ms = tonumber(cfg[3]) or tonumber(ARGV[3])
-- A closed sale admits nobody, as a paused one.
local paused = (cfg[4] or ARGV[4]) == '1' or cfg[5] == '1'

local ended = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms)
if #ended > 0 then
  call_chunked('HDEL', KEYS[3], ended)
  call_chunked('HDEL', KEYS[6], ended)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
end

local bucket = redis.call('HMGET', KEYS[5], 'tokens', 'ts_us')
local tokens = tonumber(bucket[1]) or 0
local last_us = tonumber(bucket[2]) or now_us
if paused then
  tokens = 0
else
  tokens = math.min(rate, tokens + math.max(0, now_us - last_us) / 1000000 * rate)
end

local active = redis.call('ZCARD', KEYS[2])
local batch = math.min(math.floor(tokens), max_active - active)
local admitted = 0
if batch > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], batch)
  local until_ms = int_str(now_ms + ttl_ms)
  local active_args, jti_args = {}, {}
  for i = 1, #popped, 2 do
    local user, order = popped[i], popped[i + 1]
    active_args[#active_args + 1] = until_ms
    active_args[#active_args + 1] = user
    jti_args[#jti_args + 1] = user
    jti_args[#jti_args + 1] = order
  end
  admitted = #popped / 2
  if admitted > 0 then
    call_chunked('ZADD', KEYS[2], active_args)
    call_chunked('HSET', KEYS[3], jti_args)
  end
  tokens = tokens - admitted
end

redis.call('HSET', KEYS[5], 'tokens', string.format('%.6f', tokens), 'ts_us', int_str(now_us))
return {admitted, #ended, redis.call('ZCARD', KEYS[1]), active + admitted, rate, max_active, paused and 1 or 0}
