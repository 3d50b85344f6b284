// How a backend checks a lineup admission by itself, with `jose` (npm): the
// example of docs/INTEGRATION.md, run by e2e/tests/gate.test.mjs.
//
// The checks that must not be skipped: the signature against lineup's key set
// (EdDSA only), the issuer, the audience, the expiry, the token's kind
// (`typ: admission`) and the concert. The key set is fetched once and cached
// (refetched when a token names an unknown `kid`, at most every 30 s).
// A signature alone does not say the admission is still live: ask the gate
// (GET /api/v1/gate/{concert}) where an ended admission must be refused at once.

import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose';

export function admissionVerifier({ jwksUrl, issuer, audience, fetch }) {
  const keys = createRemoteJWKSet(new URL(jwksUrl), {
    cacheMaxAge: 10 * 60 * 1000,
    cooldownDuration: 30_000,
    ...(fetch ? { [customFetch]: fetch } : {}),
  });
  return async function verifyAdmission(token, concertId) {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: ['EdDSA'],
      issuer,
      audience,
      requiredClaims: ['exp', 'sub', 'cid', 'jti'],
    });
    if (payload.typ !== 'admission') throw new Error('not an admission token');
    if (payload.cid !== concertId) throw new Error('an admission to another concert');
    return { userId: payload.sub, concertId: payload.cid, expiresAt: new Date(payload.exp * 1000) };
  };
}
