// Draws every view at once from the state, when much has changed together: on
// start, after a language switch, when the concerts arrive, when the line
// ends, and when the person changes.

import { applyStatic, currentLang } from './i18n.js';
import { $, renderMessage } from './page.js';
import { renderConcerts, renderIdentity } from './view-start.js';
import { renderPollNote, renderWaiting } from './view-waiting.js';
import { renderAdmitted } from './view-admitted.js';
import { renderTicket } from './view-ticket.js';

export function renderAll() {
  applyStatic();
  // The switch names the other language in that language, and says so to screen readers.
  $('lang').lang = currentLang() === 'ko' ? 'en' : 'ko';
  renderMessage();
  renderIdentity();
  renderConcerts();
  renderWaiting();
  renderPollNote();
  renderAdmitted();
  renderTicket();
}
