// The seat map: one button per seat, in a grid that wraps to the screen's
// width. Status is told by text, pattern and icon as well as colour; the price
// shows on hover and on focus. One tab stop for the whole map (a roving
// tabindex): arrow keys, Home and End move between seats, Enter or Space chooses.

import { t, won } from './i18n.js';

const ICONS = { available: '', selected: '✓', held: '◐', mine: '★', sold: '✕' };

/** The status a seat shows: the server's, or the person's own choice or hold. */
export function shownStatus(seat, selected, mine) {
  if (mine.has(seat.seat_no)) return 'mine';
  if (seat.status === 'available' && selected.has(seat.seat_no)) return 'selected';
  return seat.status;
}

export function statusText(status) {
  return t(`seats.${status}`);
}

/**
 * Draws `seats` into `container`, reusing the buttons already there so that
 * focus stays where it was. `onToggle(seat)` runs when a seat is chosen,
 * `onInfo(seat)` when one is hovered or focused.
 */
export function renderSeatMap(container, seats, { selected, mine, onToggle, onInfo }) {
  const existing = new Map([...container.querySelectorAll('button.seat')].map((b) => [Number(b.dataset.seat), b]));
  const wanted = new Set(seats.map((s) => s.seat_no));
  for (const [no, button] of existing) {
    if (!wanted.has(no)) button.remove();
  }
  let tabStop = container.querySelector('button.seat[tabindex="0"]');
  seats.forEach((seat, index) => {
    let button = existing.get(seat.seat_no);
    if (!button) {
      button = document.createElement('button');
      button.type = 'button';
      button.className = 'seat';
      button.dataset.seat = String(seat.seat_no);
      button.setAttribute('aria-describedby', 'seat-info');
      button.innerHTML = '<span class="seat-no"></span><span class="seat-icon" aria-hidden="true"></span>';
      button.addEventListener('click', () => onToggle(button._seat));
      button.addEventListener('focus', () => {
        moveTabStop(container, button);
        onInfo(button._seat);
      });
      button.addEventListener('mouseenter', () => onInfo(button._seat));
    }
    if (container.children[index] !== button) container.insertBefore(button, container.children[index] || null);
    button._seat = seat;
    const status = shownStatus(seat, selected, mine);
    button.dataset.status = status;
    button.querySelector('.seat-no').textContent = String(seat.seat_no);
    button.querySelector('.seat-icon').textContent = ICONS[status];
    const price = won(seat.price);
    button.dataset.tip = `${price} · ${statusText(status)}`;
    button.setAttribute('aria-label', t('seats.label', { seat: seat.seat_no, price, status: statusText(status) }));
    button.setAttribute('aria-pressed', String(status === 'selected'));
    if (status === 'available' || status === 'selected') button.removeAttribute('aria-disabled');
    else button.setAttribute('aria-disabled', 'true');
    button.tabIndex = -1;
  });
  if (!tabStop || !container.contains(tabStop)) tabStop = container.querySelector('button.seat');
  if (tabStop) tabStop.tabIndex = 0;
  if (!container.dataset.keys) {
    container.dataset.keys = 'on';
    container.addEventListener('keydown', (event) => moveFocus(container, event));
  }
}

function moveTabStop(container, button) {
  for (const other of container.querySelectorAll('button.seat[tabindex="0"]')) other.tabIndex = -1;
  button.tabIndex = 0;
}

/** How many seats one row of the grid holds on this screen. */
function columns(buttons) {
  if (buttons.length === 0) return 1;
  const top = buttons[0].offsetTop;
  const count = buttons.findIndex((b) => b.offsetTop !== top);
  return count === -1 ? buttons.length : Math.max(1, count);
}

function moveFocus(container, event) {
  const buttons = [...container.querySelectorAll('button.seat')];
  const from = buttons.indexOf(document.activeElement);
  if (from === -1) return;
  const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns(buttons), ArrowDown: columns(buttons) }[event.key];
  let to;
  if (step !== undefined) to = Math.min(buttons.length - 1, Math.max(0, from + step));
  else if (event.key === 'Home') to = 0;
  else if (event.key === 'End') to = buttons.length - 1;
  else return;
  event.preventDefault();
  moveTabStop(container, buttons[to]);
  buttons[to].focus();
}
