// The page's one state object, the parts of it kept in localStorage (the user,
// the place in line and an open hold, so a reload or a second visit carries on
// where the person was), and the values derived from it. Touches neither the
// page nor the API: the view-*.js modules draw S, the action modules change it.

export const STORE = { user: 'lineup.user', line: 'lineup.line', reservation: 'lineup.reservation' };

function load(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || 'null');
  } catch {
    return null;
  }
}

export function save(key, value) {
  if (value == null) localStorage.removeItem(key);
  else localStorage.setItem(key, JSON.stringify(value));
}

export const S = {
  user: load(STORE.user), // {user_id, access_token}
  userChosen: false, // signed up or continued during this visit
  concerts: null,
  line: load(STORE.line), // {concert_id, token, first_position}
  ticket: null, // the last QueueTicket
  view: 'start',
  schedules: null,
  scheduleDates: new Map(), // schedule id -> starts_at, for tickets
  scheduleId: null,
  seats: [],
  selected: new Set(),
  reservation: load(STORE.reservation),
  payKey: null,
  chargeAttempt: null,
  balance: null,
  walletNote: null,
  message: null, // {key, vars, kind, action, concertId}
  pollTimer: null,
  pollFailures: 0,
  pollNote: null,
  admissionDeadline: null,
  checkingHold: false,
  lastAnnounced: null,
  infoSeat: null,
  payment: null,
  payments: null,
  busy: false,
};

function concertOf(id) {
  return S.concerts?.find((c) => c.concert_id === id);
}

export function concertTitle(id) {
  return concertOf(id)?.title ?? '';
}

export function selectedTotal() {
  return S.seats.filter((s) => S.selected.has(s.seat_no)).reduce((sum, s) => sum + s.price, 0);
}

export function mySeats() {
  const r = S.reservation;
  return new Set(r && r.schedule_id === S.scheduleId ? r.seat_nos : []);
}
