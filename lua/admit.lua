-- admit.lua: one admission tick for one concert; every server runs it every admit interval.
--
-- First drops admissions that have ended (and their reservation entries and deadlines), then
-- drops idle waiters: people in line who have not polled for the idle timeout
-- (their tickets read 'expired'). Polls are kept in coarse time buckets (see
-- note_poll in _lib.lua), each person in the bucket of their last poll; a bucket
-- whose end is at least the idle timeout in force ago holds only idle people,
-- and is emptied (a bounded number a tick, oldest bucket first). So a person who
-- stops polling loses their place between the idle timeout and the idle timeout
-- plus one bucket's width (at most a quarter of it) after their last poll; when
-- the timeout in force has shrunk since (a shorter line, an operator's change),
-- a bucket is kept at least four of its widths past its end, so up to the timeout
-- that was in force at that poll (which asked for the next within a third of it)
-- counts instead. Then refills a token bucket kept in Redis at
-- admit_per_second (capped at one second's worth, starting empty), and moves
-- min(floor(tokens), room in the active set) users from the head of the line to
-- the active set. Every person taken from the head is checked for idleness once
-- more, so an admission slot is never spent on an idle waiter. Because the
-- bucket lives here, N servers together admit at the configured rate.
--
-- Seat-aware: the free seats of the concert (over its dates that have not
-- started: total - sold - held) are counted from the sold sets and hold indexes
-- passed in KEYS. With none free the line is sold out (written to line-stats,
-- which the status and join scripts read) and nobody is admitted; seats coming
-- back (holds ending) resume admission. Admitted people without a live hold
-- (shoppers) are kept at or below floor(free x admit_seat_factor); they are
-- counted exactly, whatever took the others away: the admitted set and the
-- holders set (`holders`, user -> hold end) are both pruned by time here, and
-- a shopper is an admitted person not in holders. When a date's sold set
-- is not loaded (Redis lost it), nobody is admitted this tick and the date's
-- index is returned so the server loads it from PostgreSQL.
--
-- Everyone admitted gets a deadline (in `deadlines`): their admission ends at
-- most active_ttl + hold_ttl after this tick, whatever they hold (see hold.lua).
--
-- Safe to send twice by construction: a re-sent tick is a later tick of the
-- same token bucket, which admits what the bucket refilled since, never the
-- first run's batch again.
--
-- Last, it keeps the measured admission rate in line-stats (`rate_admitted` and
-- `rate_seconds`, exponentially weighted over about a minute, from Redis TIME),
-- from which every server estimates waits.
--
-- Pre-queue: nothing happens until the pre-queue's draw has been made (the
-- server makes it, see src/fairness/draw.rs); then the drawn people are taken
-- from the head first, in their drawn order, before anyone who joined later.
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 cfg, 5 bucket (HASH tokens, ts_us), 6 user-res,
--       7 idle (ZSET bucket -> end ms, see _lib.lua), 8 line-stats (HASH), 9 draw (ZSET user ->
--       drawn rank), 10 drawn (marker), 11 holders (ZSET user -> hold end ms),
--       12 deadlines (ZSET user -> the latest their admission may end, ms), then for
--       each date on sale three keys: sold (SET), sold-loaded, held (ZSET)
-- ARGV: defaults for settings missing from cfg: 1 admit_per_second, 2 max_active,
--       3 active_ttl_ms, 4 paused (0 or 1), 5 idle_timeout_ms, 6 admit_seat_factor,
--       7 poll_budget_per_second, 8 hold_ttl_ms; 9.. the total seats of each date, in
--       the order of their keys
-- Returns: {'undrawn'} while the draw is to be made, else {admitted, expired_dropped,
--   waiting, active, admit_per_second, max_active, paused (0 or 1), idle_dropped, free_seats (-1 when unknown), sold_out (0 or 1),
--   {1-based indexes of dates whose sold set is not loaded}}: the outcome and the
--   settings it ran with, for the metrics.
local now_ms, now_us = redis_now()
if redis.call('EXISTS', KEYS[10]) == 0 then
  return {'undrawn'}
end
local cfg = redis.call('HMGET', KEYS[4], 'admit_per_second', 'max_active', 'active_ttl_ms', 'paused', 'closed',
  'idle_timeout_ms', 'admit_seat_factor', 'poll_budget_per_second', 'hold_ttl_ms')
local rate = tonumber(cfg[1]) or tonumber(ARGV[1])
local max_active = tonumber(cfg[2]) or tonumber(ARGV[2])
local ttl_ms = tonumber(cfg[3]) or tonumber(ARGV[3])
-- A closed sale admits nobody, as a paused one.
local paused = (cfg[4] or ARGV[4]) == '1' or cfg[5] == '1'
local idle_ms = tonumber(cfg[6]) or tonumber(ARGV[5])
local poll_budget = tonumber(cfg[8]) or tonumber(ARGV[7])
idle_ms = idle_in_force_ms(idle_ms, poll_budget, redis.call('ZCARD', KEYS[1]))
local idle_before_ms = now_ms - idle_ms
local seat_factor = tonumber(cfg[7]) or tonumber(ARGV[6])
local hold_ms = tonumber(cfg[9]) or tonumber(ARGV[8])

local ended = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms)
if #ended > 0 then
  call_chunked('HDEL', KEYS[3], ended)
  call_chunked('HDEL', KEYS[6], ended)
  call_chunked('ZREM', KEYS[12], ended)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
end
-- Holds that have ended leave holders, and their reservation entries go too
-- (whoever left, was evicted or joined again meanwhile); passed deadlines go.
local hold_ended = redis.call('ZRANGEBYSCORE', KEYS[11], '-inf', now_ms)
if #hold_ended > 0 then
  for _, user in ipairs(hold_ended) do
    if not open_reservation(KEYS[6], user, now_ms) then
      redis.call('HDEL', KEYS[6], user)
    end
  end
  call_chunked('ZREM', KEYS[11], hold_ended)
end
redis.call('ZREMRANGEBYSCORE', KEYS[12], '-inf', now_ms)

-- Idle waiters: the buckets that ended at least the idle timeout ago are
-- emptied, oldest first, at most IDLE_SWEEP people and IDLE_SWEEP_SHARDS shards
-- a tick (the check at the head below catches any the sweep has not reached
-- yet); a bucket's bitmap names its shards not yet emptied. An entry whose
-- order number is no longer in line (admitted, left, evicted) just goes.
local IDLE_SWEEP, IDLE_SWEEP_SHARDS = 1000, 256
local idle_dropped = 0
-- A bucket also waits four of its own widths past its end: its width tells the
-- idle timeout in force when its polls were made (under 8 widths, at least 4,
-- see idle_bucket_width_ms), and they were asked to poll again within a third
-- of that; so a line that has shrunk since (a shorter idle timeout in force),
-- or an operator's shorter timeout, does not drop someone polling as asked.
local idle_buckets = {}
local past_end = redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', idle_before_ms, 'WITHSCORES')
for i = 1, #past_end, 2 do
  if tonumber(past_end[i + 1]) <= now_ms - 4 * idle_bucket_width(past_end[i]) then
    idle_buckets[#idle_buckets + 1] = past_end[i]
  end
end
local function drop_idle(order)
  local user = redis.call('ZRANGEBYSCORE', KEYS[1], int_str(order), int_str(order), 'LIMIT', 0, 1)[1]
  if user then
    redis.call('ZREM', KEYS[1], user)
    redis.call('ZREM', KEYS[9], user)
    idle_dropped = idle_dropped + 1
  end
end
local people_left, shards_left = IDLE_SWEEP, IDLE_SWEEP_SHARDS
for _, bucket in ipairs(idle_buckets) do
  local start = idle_bucket_start(bucket)
  local shards = KEYS[7] .. ':' .. bucket
  while people_left > 0 and shards_left > 0 do
    local shard = redis.call('BITPOS', shards, 1)
    if shard < 0 then
      break
    end
    local members = redis.call('SPOP', idle_shard_key(KEYS[7], bucket, shard), people_left)
    for _, member in ipairs(members) do
      drop_idle(idle_order(member, start, shard))
    end
    if #members < people_left then
      redis.call('SETBIT', shards, shard, 0)
    end
    people_left = people_left - #members
    shards_left = shards_left - 1
  end
  if people_left == 0 or shards_left == 0 then
    break
  end
  redis.call('DEL', shards)
  redis.call('ZREM', KEYS[7], bucket)
end
-- Whether someone taken from the head is idle: their last poll is in a bucket
-- that ended the idle timeout ago (a person is in one bucket only).
local function idle_at_head(order)
  for _, bucket in ipairs(idle_buckets) do
    if idle_in_bucket(KEYS[7], bucket, tonumber(order)) then
      return true
    end
  end
  return false
end

local bucket = redis.call('HMGET', KEYS[5], 'tokens', 'ts_us')
local tokens = tonumber(bucket[1]) or 0
local last_us = tonumber(bucket[2]) or now_us
if paused then
  tokens = 0
else
  tokens = math.min(rate, tokens + math.max(0, now_us - last_us) / 1000000 * rate)
end

-- Takes up to n people from the head of the line, skipping (and dropping)
-- idle ones; returns {user, order, user, order, ...}.
local function take_from_head(n)
  local taken = {}
  for _ = 1, 10 do
    local want = n - #taken / 2
    if want <= 0 then
      break
    end
    -- The drawn pre-queue first; its members also sit in wait, at its front.
    local from_draw = redis.call('ZCARD', KEYS[9]) > 0
    local head = redis.call('ZPOPMIN', from_draw and KEYS[9] or KEYS[1], want)
    if #head == 0 then
      break
    end
    for i = 1, #head, 2 do
      local user, order = head[i], head[i + 1]
      if from_draw then
        order = redis.call('ZSCORE', KEYS[1], user)
        if order then
          redis.call('ZREM', KEYS[1], user)
        end
      end
      -- (a drawn person no longer in wait has left: skipped)
      if order then
        if idle_at_head(order) then
          idle_dropped = idle_dropped + 1
        else
          taken[#taken + 1] = user
          taken[#taken + 1] = order
        end
      end
    end
  end
  return taken
end

-- Free seats: total - sold - held of every date on sale.
local free, unloaded = 0, {}
for date = 1, #ARGV - 8 do
  local k = 13 + (date - 1) * 3
  if redis.call('EXISTS', KEYS[k + 1]) == 0 then
    unloaded[#unloaded + 1] = date
  else
    local taken = redis.call('SCARD', KEYS[k]) + redis.call('ZCOUNT', KEYS[k + 2], '(' .. now_ms, '+inf')
    free = free + math.max(0, tonumber(ARGV[8 + date]) - taken)
  end
end
local sold_out = 0
local waiting_before = redis.call('ZCARD', KEYS[1])
local active = redis.call('ZCARD', KEYS[2])
local batch = math.min(math.floor(tokens), max_active - active)
if #unloaded > 0 then
  free = -1
  batch = 0
else
  if free == 0 then
    sold_out = 1
  end
  redis.call('HSET', KEYS[8], 'sold_out', sold_out, 'free_seats', free)
  -- People admitted but holding nothing are the ones still looking for seats.
  local shopping = active - redis.call('ZINTERCARD', 2, KEYS[2], KEYS[11])
  -- At least one shopper while any seat is free, whatever the factor.
  local shoppers_allowed = free > 0 and math.max(1, math.floor(free * seat_factor)) or 0
  batch = math.min(batch, shoppers_allowed - shopping)
end
local admitted = 0
if batch > 0 then
  local popped = take_from_head(batch)
  local until_ms = int_str(now_ms + ttl_ms)
  local deadline_ms = int_str(now_ms + ttl_ms + hold_ms)
  local active_args, jti_args, deadline_args = {}, {}, {}
  for i = 1, #popped, 2 do
    local user, order = popped[i], popped[i + 1]
    active_args[#active_args + 1] = until_ms
    active_args[#active_args + 1] = user
    jti_args[#jti_args + 1] = user
    jti_args[#jti_args + 1] = order
    deadline_args[#deadline_args + 1] = deadline_ms
    deadline_args[#deadline_args + 1] = user
  end
  admitted = #popped / 2
  if admitted > 0 then
    call_chunked('ZADD', KEYS[2], active_args)
    call_chunked('HSET', KEYS[3], jti_args)
    call_chunked('ZADD', KEYS[12], deadline_args)
  end
  tokens = tokens - admitted
end

redis.call('HSET', KEYS[5], 'tokens', string.format('%.6f', tokens), 'ts_us', int_str(now_us))

-- The measured admission rate: admissions and seconds of demand (someone was
-- waiting, and seats were free), both decayed exponentially with a one-minute
-- time constant, from the first admission on; their ratio is the rate over
-- about the last minute. The seconds since the last tick count as the decayed
-- integral 60 (1 - e^(-dt/60)), so a long gap between ticks (servers down)
-- counts as at most a minute.
local measured = redis.call('HMGET', KEYS[8], 'rate_admitted', 'rate_seconds', 'rate_ts_us')
local rate_admitted = tonumber(measured[1]) or 0
local rate_seconds = tonumber(measured[2]) or 0
local rate_last_us = tonumber(measured[3]) or now_us
local elapsed = math.max(0, now_us - rate_last_us) / 1000000
local decay = math.exp(-elapsed / 60)
rate_seconds = rate_seconds * decay
if rate_admitted > 0 and waiting_before > 0 and free ~= 0 then
  rate_seconds = rate_seconds + 60 * (1 - decay)
end
rate_admitted = rate_admitted * decay + admitted
redis.call('HSET', KEYS[8], 'rate_admitted', string.format('%.6f', rate_admitted),
  'rate_seconds', string.format('%.6f', rate_seconds), 'rate_ts_us', int_str(now_us))
return {admitted, #ended, redis.call('ZCARD', KEYS[1]), active + admitted, rate, max_active,
  paused and 1 or 0, idle_dropped, free, sold_out, unloaded}
