// The person's balance: loading it, and charging it (the same idempotency key
// again only when the same amount is retried after no clear answer).

import { api, newKey } from './api.js';
import { t, won } from './i18n.js';
import { S } from './state.js';
import { $, announce, genericError } from './page.js';
import { renderWallet } from './view-admitted.js';
import { signInExpired } from './identity.js';

export async function loadBalance() {
  if (!S.user) return;
  try {
    const b = await api.balance(S.user.user_id, S.user.access_token);
    S.balance = b.balance;
  } catch (e) {
    if (e.status === 401) signInExpired();
  }
  renderWallet();
}

export async function charge(event) {
  event.preventDefault();
  if (!S.user || S.busy) return;
  const input = $('charge-amount');
  const amount = Number.parseInt(input.value, 10);
  const min = Number(input.min);
  const max = Number(input.max);
  if (!Number.isFinite(amount) || amount < min || amount > max) {
    S.walletNote = { key: 'err.chargeRange', vars: { min: () => won(min), max: () => won(max) } };
    renderWallet();
    return;
  }
  // The same key again only when retrying the same amount after no clear answer.
  if (S.chargeAttempt?.amount !== amount) S.chargeAttempt = { amount, key: newKey() };
  S.busy = true;
  renderWallet();
  try {
    const r = await api.charge(S.user.user_id, amount, S.user.access_token, S.chargeAttempt.key);
    S.chargeAttempt = null;
    S.balance = r.balance;
    S.walletNote = { key: 'wallet.charged', vars: { amount: () => won(r.charged), balance: () => won(r.balance) } };
    announce(t('wallet.charged', { amount: won(r.charged), balance: won(r.balance) }));
  } catch (e) {
    if (!(e.busy || e.transient)) S.chargeAttempt = null;
    if (e.status === 401) signInExpired();
    else if (e.code === 'reservation_in_progress') S.walletNote = { key: 'wallet.whileHolding' };
    else if (e.code === 'invalid_amount') S.walletNote = { key: 'err.chargeRange', vars: { min: () => won(min), max: () => won(max) } };
    else genericError(e);
  } finally {
    S.busy = false;
  }
  renderWallet();
}
