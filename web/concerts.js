// The concerts on sale, asked for on start and again while the server is busy
// or cannot be reached.

import { api, retryDelayMs } from './api.js';
import { t } from './i18n.js';
import { S } from './state.js';
import { $ } from './page.js';
import { renderAll } from './views.js';

export async function loadConcerts() {
  for (let failures = 1; failures <= 8; failures += 1) {
    try {
      const r = await api.concerts();
      S.concerts = r.concerts;
      renderAll();
      return;
    } catch (e) {
      const delay = retryDelayMs(e, failures);
      $('concerts-state').textContent = t(e.busy ? 'err.busyAction' : 'err.offline', { n: Math.ceil(delay / 1000) });
      await new Promise((done) => setTimeout(done, delay));
    }
  }
}
