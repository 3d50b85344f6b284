-- release.lua: gives up a held reservation: its holds, its index entries and the reservation.
--
-- Sent once (see once in _lib.lua): a re-send answers 'released' again, not
-- 'not_found'.
--
-- KEYS: 1 user-res, 2 res, 3 held, 4 holders, 5.. one hold key per seat
-- ARGV: 1 user id, 2 reservation id, 3.. seat numbers in the order of the hold keys
-- Returns: 'released' | 'not_found' | 'forbidden' (another user's) | 'payment_in_progress'
local user, reservation_id = ARGV[1], ARGV[2]
local refusal = reservation_refusal(KEYS[2], user)
if refusal then
  return refusal
end
local seats = {unpack(ARGV, 3)}
drop_holds(KEYS[3], 5, seats, reservation_id)
redis.call('DEL', KEYS[2])
forget_reservation(KEYS[1], KEYS[4], user, reservation_id)
return 'released'
