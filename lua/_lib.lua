-- _lib.lua: helpers prepended to every lineup script when it is loaded (see src/store/scripts/mod.rs).
--
-- Redis converts Lua numbers to strings with 14 significant digits, which would
-- corrupt microsecond timestamps; numbers that go back into Redis are formatted
-- with int_str() instead.

-- Redis server time, so servers with skewed clocks agree: milliseconds and microseconds.
local function redis_now()
  local t = redis.call('TIME')
  local us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  return math.floor(us / 1000), us
end

local function int_str(n)
  return string.format('%.0f', n)
end

-- Runs a variadic command over a long argument list in chunks (Lua's unpack
-- is limited to a few thousand values).
local function call_chunked(cmd, key, args)
  local chunk = 1000
  for i = 1, #args, chunk do
    redis.call(cmd, key, unpack(args, i, math.min(i + chunk - 1, #args)))
  end
end

-- Where a queue token stands: 'active' (admitted, with the admission's end in ms),
-- 'waiting' (still in line) or 'expired' (left, paid, evicted or superseded).
-- The token's jti must be the user's current one: the order number while
-- waiting, the `jti` hash entry once admitted.
local function admission_state(wait_key, active_key, jti_key, user, jti, now_ms)
  local until_ms = tonumber(redis.call('ZSCORE', active_key, user))
  if until_ms and until_ms > now_ms and redis.call('HGET', jti_key, user) == jti then
    return 'active', until_ms
  end
  local order = redis.call('ZSCORE', wait_key, user)
  if order and tonumber(order) == tonumber(jti) then
    return 'waiting', 0
  end
  return 'expired', 0
end

-- The user's open reservation id from the `user-res` hash ("<id>|<until_ms>"),
-- or nil when there is none or it has ended.
local function open_reservation(user_res_key, user, now_ms)
  local entry = redis.call('HGET', user_res_key, user)
  if not entry then
    return nil
  end
  local id, until_ms = string.match(entry, '^([^|]+)|(%d+)$')
  if id and tonumber(until_ms) > now_ms then
    return id
  end
  return nil
end

-- Notes the user's open reservation and when its hold ends, in the two places
-- that know it: `user-res` (user -> "<id>|<until_ms>", to find it) and
-- `holders` (ZSET user -> until_ms, to count the admitted who hold seats; the
-- admit tick drops ended holds by score, so the count needs no other path to
-- clean up after it).
local function note_reservation(user_res_key, holders_key, user, reservation_id, until_ms)
  redis.call('HSET', user_res_key, user, reservation_id .. '|' .. until_ms)
  redis.call('ZADD', holders_key, until_ms, user)
end

-- Why this user may not release or pay the reservation, or nil when they may:
-- 'not_found', 'forbidden' (another user's) or 'payment_in_progress'.
local function reservation_refusal(res_key, user)
  local res = redis.call('HMGET', res_key, 'user_id', 'status')
  if not res[1] then
    return 'not_found'
  elseif res[1] ~= user then
    return 'forbidden'
  elseif res[2] == 'paying' then
    return 'payment_in_progress'
  end
  return nil
end

-- Forgets the user's reservation (see note_reservation) if it is still this one.
local function forget_reservation(user_res_key, holders_key, user, reservation_id)
  local entry = redis.call('HGET', user_res_key, user)
  if entry and string.sub(entry, 1, #reservation_id + 1) == reservation_id .. '|' then
    redis.call('HDEL', user_res_key, user)
    redis.call('ZREM', holders_key, user)
  end
end

-- Drops the holds (and their index entries) that still belong to this reservation.
-- hold_keys[i] is the hold of seats[i]; the first hold key is KEYS[first].
local function drop_holds(held_key, first_hold_key, seats, reservation_id)
  for i, seat in ipairs(seats) do
    local hold_key = KEYS[first_hold_key + i - 1]
    if redis.call('GET', hold_key) == reservation_id then
      redis.call('DEL', hold_key)
      redis.call('ZREM', held_key, seat)
    end
  end
end


-- What a ticket's estimate and poll interval are computed from, appended to the
-- replies of join and status: {admit_per_second, idle_timeout_ms,
-- poll_budget_per_second, rate_admitted, rate_seconds, waiting}; the settings
-- come from cfg (each missing one from its default), the measured rate from
-- line-stats (see admit.lua), waiting is the length of the line.
local function line_facts(cfg_key, stats_key, wait_key, default_rate, default_idle_ms, default_budget)
  local cfg = redis.call('HMGET', cfg_key, 'admit_per_second', 'idle_timeout_ms', 'poll_budget_per_second')
  local measured = redis.call('HMGET', stats_key, 'rate_admitted', 'rate_seconds')
  return {cfg[1] or default_rate, cfg[2] or default_idle_ms, cfg[3] or default_budget,
    measured[1] or '0', measured[2] or '0', redis.call('ZCARD', wait_key)}
end

-- The idle timeout in force for a line of `waiting` people, in ms: a line too
-- long for everyone to poll every idle/3 within the poll budget is asked to poll
-- up to 2n/budget seconds apart, and the idle timeout stretches to three times
-- that (src/queue/polling.rs, ceiling_and_idle_ms, computes the same).
local function idle_in_force_ms(idle_ms, budget, waiting)
  local ceiling = math.max(math.floor(idle_ms / 3), math.ceil(2000 * waiting / budget), 1000)
  return math.max(idle_ms, 3 * ceiling)
end

-- Idle tracking in coarse time buckets (see admit.lua for the rule). A poll puts
-- its person in the bucket of now: `<start_ms>:<width_ms>`, listed in the ZSET
-- `idle` (KEYS, bucket -> end ms) and stored as IDLE_SHARDS small sets of
-- integers named from that key (`<idle>:<bucket>:<shard>`, in the same hash
-- slot), so that Redis keeps each as a compact intset: a person costs 4 bytes,
-- not a sorted-set entry. A bitmap `<idle>:<bucket>` marks the shards written,
-- so the sweep visits only those. A person is in exactly one bucket, that of their last
-- poll (note_poll moves them). Their member is their order number, as
-- (order mod IDLE_SHARDS) for the shard and floor(order / IDLE_SHARDS) less the
-- bucket's start (in the same unit) for the member: a small number, which fits
-- 32 bits for anyone who joined less than 100 days before the bucket began.
local IDLE_SHARDS = 4096

-- The buckets' width for an idle timeout in force: the largest power of two
-- ms at most a quarter of it (120 s: 16.4 s; 300 s: 65.5 s).
local function idle_bucket_width_ms(idle_ms)
  local width = 1
  while width * 2 <= idle_ms / 4 do
    width = width * 2
  end
  return width
end

local function idle_bucket_start(bucket)
  return tonumber(string.match(bucket, '^(%d+):'))
end

local function idle_bucket_width(bucket)
  return tonumber(string.match(bucket, ':(%d+)$'))
end

local function idle_shard_key(idle_key, bucket, shard)
  return idle_key .. ':' .. bucket .. ':' .. int_str(shard)
end

local function idle_member(order, start_ms)
  return int_str(math.floor(order / IDLE_SHARDS) - math.floor(start_ms * 1000 / IDLE_SHARDS))
end

-- The order number of `member` of a bucket's shard (the inverse of idle_member).
local function idle_order(member, start_ms, shard)
  return (tonumber(member) + math.floor(start_ms * 1000 / IDLE_SHARDS)) * IDLE_SHARDS + shard
end

-- Whether the person with this order number is in the bucket.
local function idle_in_bucket(idle_key, bucket, order)
  local shard = order % IDLE_SHARDS
  return redis.call('SISMEMBER', idle_shard_key(idle_key, bucket, shard),
    idle_member(order, idle_bucket_start(bucket))) == 1
end

-- Records a poll (or a join) of the waiting person with this order number:
-- into the bucket of now (buckets width_ms wide), out of the bucket of their
-- previous poll. `new_place`: a first join, in no bucket yet.
local function note_poll(idle_key, order, now_ms, width_ms, new_place)
  order = tonumber(order)
  local start = now_ms - now_ms % width_ms
  local bucket = int_str(start) .. ':' .. int_str(width_ms)
  local shard = order % IDLE_SHARDS
  if redis.call('SADD', idle_shard_key(idle_key, bucket, shard), idle_member(order, start)) == 0 then
    return
  end
  if redis.call('SETBIT', idle_key .. ':' .. bucket, shard, 1) == 0 then
    redis.call('ZADD', idle_key, 'NX', int_str(start + width_ms), bucket)
  end
  if new_place then
    return
  end
  -- The previous poll's bucket, newest first (where most are found).
  for _, other in ipairs(redis.call('ZREVRANGE', idle_key, 0, -1)) do
    if other ~= bucket and redis.call('SREM', idle_shard_key(idle_key, other, shard),
        idle_member(order, idle_bucket_start(other))) == 1 then
      return
    end
  end
end

-- Deletes every idle bucket listed in `idle_key` (each written shard, found by
-- its bitmap, then the bitmap), not the index itself. Returns how many keys.
local function drop_idle_buckets(idle_key)
  local deleted = 0
  for _, bucket in ipairs(redis.call('ZRANGE', idle_key, 0, -1)) do
    local shards = idle_key .. ':' .. bucket
    while true do
      local shard = redis.call('BITPOS', shards, 1)
      if shard < 0 then
        break
      end
      deleted = deleted + redis.call('UNLINK', idle_shard_key(idle_key, bucket, shard))
      redis.call('SETBIT', shards, shard, 0)
    end
    deleted = deleted + redis.call('UNLINK', shards)
  end
  return deleted
end

-- The state of a waiting place, as join and status report it: 'sold_out' while
-- no seat is neither sold nor held (as the admit tick last found, in line-stats),
-- else 'waiting'. A sold-out place keeps its position: should seats come back,
-- it reads 'waiting' again in the same order.
local function waiting_state(stats_key)
  if redis.call('HGET', stats_key, 'sold_out') == '1' then
    return 'sold_out'
  end
  return 'waiting'
end

-- Appends the elements of tail to list; returns list.
local function append(list, tail)
  for _, value in ipairs(tail) do
    list[#list + 1] = value
  end
  return list
end

-- The 1-based position of a waiting user. A pre-queue member (order number
-- below the opening's) reads 0 until the draw is made, then their rank in the
-- draw; everyone else their rank in the line, which counts every pre-queue
-- member still waiting (their order numbers are all lower).
local function line_position(wait_key, draw_key, drawn_key, user, opens_at_us)
  local order = tonumber(redis.call('ZSCORE', wait_key, user))
  if order and order < tonumber(opens_at_us) then
    if redis.call('EXISTS', drawn_key) == 0 then
      return 0
    end
    local rank = redis.call('ZRANK', draw_key, user)
    if rank then
      return rank + 1
    end
  end
  return redis.call('ZRANK', wait_key, user) + 1
end

-- Sent once: a script whose header says so runs as once(function() <script> end).
-- Its caller appends one more key, the attempt's (`once:<attempt id>`, in the
-- concert's hash tag), and one more argument, how long to remember it (ms);
-- the script itself sees KEYS and ARGV without them. The first run keeps its
-- reply there; a re-send of the same attempt (its reply was lost, or came too
-- late, and the client sent it again) gets that reply back and changes nothing.
-- A script that changed nothing and would answer a re-send the same returns a
-- second value, UNCHANGED: its reply is not kept (a refusal sent again and again
-- leaves no key behind).
local UNCHANGED = true
local function once(script)
  local attempt_key = table.remove(KEYS)
  local remember_ms = table.remove(ARGV)
  local first = redis.call('GET', attempt_key)
  if first then
    return cmsgpack.unpack(first)
  end
  local reply, unchanged = script()
  if not unchanged then
    redis.call('SET', attempt_key, cmsgpack.pack(reply), 'PX', remember_ms)
  end
  return reply
end

-- Marks the live settings in `cfg` as changed and not yet in PostgreSQL: a new
-- version (Redis time in µs, above the last one), kept in `version` and in
-- `pending` until a sync has written that version to PostgreSQL. Returns it.
local function settings_changed(cfg_key)
  local _, now_us = redis_now()
  local version = math.max(now_us, (tonumber(redis.call('HGET', cfg_key, 'version')) or 0) + 1)
  redis.call('HSET', cfg_key, 'version', int_str(version), 'pending', int_str(version))
  return version
end
