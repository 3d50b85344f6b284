// Sending a person back to the site that sent them (lineup in front of an
// existing site, docs/INTEGRATION.md): the protected site redirects to
// `/?concert=<id>&return_to=<url>`; once the person is admitted to that concert,
// the page asks for the admission (which sets the admission cookie) and goes
// to the return_to lineup checked against its allow-list. Never to a URL the
// server did not hand back.
//
// return_to is the last parameter and takes the rest of the query as it
// stands, so that a proxy can append the original URL unencoded (nginx cannot
// encode it); an encoded one (https%3A...) is decoded once.

import { api } from './api.js';
import { S } from './state.js';
import { genericError } from './page.js';
import { joinLine } from './line.js';

const KEY = 'lineup.returnTo';

function fromLocation() {
  const query = location.search;
  const concert = new URLSearchParams(query).get('concert');
  const at = query.indexOf('return_to=');
  if (!concert || at < 0) return null;
  let url = query.slice(at + 'return_to='.length);
  if (/^https?%3A/i.test(url)) {
    try {
      url = decodeURIComponent(url);
    } catch {
      return null;
    }
  }
  return { concertId: concert, url };
}

/** Where this visit asks to go back to, kept for the visit (a reload keeps it). */
export function returnTarget() {
  const asked = fromLocation();
  if (asked) {
    sessionStorage.setItem(KEY, JSON.stringify(asked));
    return asked;
  }
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || 'null');
  } catch {
    return null;
  }
}

let sending = false;

/** When admitted to the concert a site sent the person from: the cookie, then back. */
export async function sendBackIfAsked(ticket) {
  const target = returnTarget();
  if (!target || sending || ticket.status !== 'active' || ticket.concert_id !== target.concertId) return false;
  sending = true;
  try {
    const admission = await api.admission(S.line.token, target.url);
    sessionStorage.removeItem(KEY);
    if (admission.return_to) location.assign(admission.return_to);
    return true;
  } catch (e) {
    sending = false;
    genericError(e);
    return false;
  }
}

/** Sent here by a protected site: join its concert's line once the person is signed in. */
export function joinIfAsked() {
  const target = returnTarget();
  if (target && S.user && S.line?.concert_id !== target.concertId) joinLine(target.concertId);
}
