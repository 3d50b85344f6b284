-- hold.lua: holds 1 to 4 seats of one schedule for an admitted user, all or none.
--
-- Refuses when the sale is closed, when the schedule's sold seats are not loaded
-- (Redis lost them: the server reloads them from PostgreSQL and retries), when
-- the user is not admitted, when they already have an open reservation in this
-- concert, or when any seat is sold or held. On success every seat gets a
-- `SET PX` hold naming the reservation, the reservation hash expires with the
-- holds, and the user's admission is extended to at least the holds' end.
--
-- A person's time is bounded: a hold lasts hold_ttl, cut short at the admission's
-- deadline (active_ttl + hold_ttl after it began, set by admit.lua), so holding,
-- releasing and holding again never keeps seats or an admission past it. Past the
-- deadline only a payment's extension (pay_begin.lua) keeps an admission open,
-- and a hold then ends with that extension.
--
-- Safe to send twice: the reservation id is the attempt's. A re-send (the first
-- reply was lost) finds its own reservation and answers 'held' again.
--
-- KEYS: 1 wait, 2 active, 3 jti, 4 user-res, 5 sold (SET), 6 sold-loaded,
--       7 held (ZSET seat -> hold expiry ms), 8 res (HASH), 9 cfg (HASH settings),
--       10 holders (ZSET user -> hold end ms), 11 deadlines (ZSET user -> the latest
--       their admission may end, ms), 12.. one hold key per seat
-- ARGV: 1 user id, 2 token jti, 3 reservation id, 4 schedule id, 5 default hold ms
--       (when cfg has no hold_ttl_ms), 6 amount, 7 concert id, 8.. seat numbers in
--       the order of the hold keys
-- Returns: {'held', held_until_ms} | {'sale_closed'} | {'sold_not_loaded'} | {'waiting'}
--   | {'expired'} | {'reservation_exists', reservation_id} | {'seat_unavailable', seat...}
local now_ms = redis_now()
local user, jti, reservation_id = ARGV[1], ARGV[2], ARGV[3]
local first_hold = 11

local mine = redis.call('HMGET', KEYS[8], 'user_id', 'held_until_ms')
if mine[1] == user then
  return {'held', mine[2]}
end

local cfg = redis.call('HMGET', KEYS[9], 'hold_ttl_ms', 'closed')
local hold_ms = tonumber(cfg[1]) or tonumber(ARGV[5])
local seats = {unpack(ARGV, 8)}

if cfg[2] == '1' then
  return {'sale_closed'}
end
if redis.call('EXISTS', KEYS[6]) == 0 then
  return {'sold_not_loaded'}
end
local state, admitted_until = admission_state(KEYS[1], KEYS[2], KEYS[3], user, jti, now_ms)
if state ~= 'active' then
  return {state}
end
local existing = open_reservation(KEYS[4], user, now_ms)
if existing then
  return {'reservation_exists', existing}
end

local taken = {}
for i, seat in ipairs(seats) do
  if redis.call('SISMEMBER', KEYS[5], seat) == 1 or redis.call('EXISTS', KEYS[first_hold + i]) == 1 then
    taken[#taken + 1] = seat
  end
end
if #taken > 0 then
  return {'seat_unavailable', unpack(taken)}
end

-- The admission's deadline, or the end a payment's extension gave it past the
-- deadline (an admission from before deadlines were kept has only the latter).
local latest = math.max(tonumber(redis.call('ZSCORE', KEYS[11], user)) or 0, admitted_until)
local until_num = math.min(now_ms + hold_ms, latest)
local hold_px = until_num - now_ms
local until_ms = int_str(until_num)
redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now_ms)
for i, seat in ipairs(seats) do
  redis.call('SET', KEYS[first_hold + i], reservation_id, 'PX', hold_px)
  redis.call('ZADD', KEYS[7], until_ms, seat)
end
redis.call('HSET', KEYS[8],
  'user_id', user, 'concert_id', ARGV[7], 'schedule_id', ARGV[4],
  'seat_nos', table.concat(seats, ','), 'amount', ARGV[6],
  'status', 'held', 'held_until_ms', until_ms)
redis.call('PEXPIRE', KEYS[8], hold_px)
note_reservation(KEYS[4], KEYS[10], user, reservation_id, until_ms)
redis.call('ZADD', KEYS[2], 'GT', until_ms, user)
return {'held', until_ms}
