// Who the person is: signing up as someone new, continuing as the user this
// browser remembers, and forgetting the user when the sign-in has expired.

import { api } from './api.js';
import { S, save, STORE } from './state.js';
import { clearMessage, genericError, showMessage, showView } from './page.js';
import { renderAll } from './views.js';
import { endLine } from './line.js';
import { loadBalance } from './wallet.js';
import { joinIfAsked } from './return.js';

export async function signUp() {
  if (S.busy) return;
  S.busy = true;
  try {
    const user = await api.signUp();
    endLine();
    S.user = user;
    S.userChosen = true;
    S.balance = 0;
    S.payments = null;
    save(STORE.user, user);
    clearMessage();
  } catch (e) {
    genericError(e);
  } finally {
    S.busy = false;
  }
  renderAll();
  joinIfAsked();
}

export function continueUser() {
  S.userChosen = true;
  renderAll();
  loadBalance();
  joinIfAsked();
}

export function signInExpired() {
  endLine();
  S.user = null;
  S.userChosen = false;
  save(STORE.user, null);
  showView('start');
  showMessage('err.signInExpired');
  renderAll();
}
