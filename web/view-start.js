// Draws the start view: who the person is (the identity card and the header)
// and the concerts on sale, each with its button to join the line.

import { dateTime, t, won } from './i18n.js';
import { S } from './state.js';
import { $, shortId } from './page.js';
import { joinLine } from './line.js';

export function renderIdentity() {
  const stored = !!S.user;
  const chosen = stored && S.userChosen;
  $('identity-text').textContent = chosen
    ? t('id.current', { id: shortId(S.user.user_id) })
    : stored
      ? t('id.stored', { id: shortId(S.user.user_id) })
      : t('id.new');
  $('continue-user').hidden = !stored || chosen;
  $('sign-up').textContent = stored ? t('id.signUpNew') : t('id.signUp');
  $('show-history').hidden = !chosen;
  $('who').textContent = chosen ? `${shortId(S.user.user_id)}${S.balance != null ? ` · ${won(S.balance)}` : ''}` : '';
}

export function renderConcerts() {
  const list = $('concerts');
  const state = $('concerts-state');
  const chosen = !!S.user && S.userChosen;
  if (S.concerts == null) {
    state.textContent = t('start.loading');
    return;
  }
  state.textContent = S.concerts.length === 0 ? t('start.none') : chosen ? '' : t('id.needed');
  list.replaceChildren(
    ...S.concerts.map((c) => {
      const li = document.createElement('li');
      li.className = 'card concert';
      const title = document.createElement('h2');
      title.textContent = c.title;
      const venue = document.createElement('p');
      venue.textContent = c.venue;
      const opens = document.createElement('p');
      opens.className = 'muted';
      // A sale that has opened reads as open, not as opening in the past.
      opens.textContent = Date.parse(c.opens_at) <= Date.now()
        ? t('concert.onSale')
        : t('concert.opens', { when: dateTime(c.opens_at) });
      const dates = document.createElement('p');
      dates.className = 'dates';
      dates.textContent = t('concert.dates', { dates: (c.dates || []).map(dateTime).join(', ') });
      const join = document.createElement('button');
      join.type = 'button';
      join.textContent = t('concert.join');
      join.setAttribute('aria-label', t('concert.joinLabel', { title: c.title }));
      join.disabled = !chosen || S.busy;
      join.addEventListener('click', () => joinLine(c.concert_id));
      li.append(title, venue, dates, opens, join);
      return li;
    }),
  );
}
