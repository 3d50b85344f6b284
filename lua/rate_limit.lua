-- rate_limit.lua: takes one request from a token bucket kept in Redis, so all
-- servers share one limit per client address or user.
--
-- The bucket refills at `rate` tokens a second up to `burst` and starts full. The
-- key expires once the bucket would be full again, so idle clients cost nothing.
--
-- Safe to send twice: the bucket keeps its last request's attempt id and answer,
-- and that attempt sent again (a client re-sending after a lost reply or a reset)
-- gets the same answer back and takes nothing more.
--
-- KEYS: 1 bucket (HASH tokens, ts_us, attempt, answer)
-- ARGV: 1 rate per second, 2 burst, 3 the request's attempt id (new for every request)
-- Returns: 0 when the request may go ahead, else the milliseconds until it may.
local _, now_us = redis_now()
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'ts_us', 'attempt', 'answer')
if bucket[3] == ARGV[3] and bucket[4] then
  return tonumber(bucket[4])
end
local tokens = tonumber(bucket[1]) or burst
local last_us = tonumber(bucket[2]) or now_us
tokens = math.min(burst, tokens + math.max(0, now_us - last_us) / 1000000 * rate)
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait_ms = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts_us', int_str(now_us),
  'attempt', ARGV[3], 'answer', wait_ms)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return wait_ms
