"""How a backend checks a lineup admission by itself, with PyJWT: the Python
example of docs/INTEGRATION.md, run by e2e/tests/gate.test.mjs.

The checks that must not be skipped: the signature against lineup's key set
(EdDSA only), the issuer, the audience, the expiry, the token's kind
(`typ: admission`) and the concert. PyJWKClient caches the key set and fetches
it again when a token names an unknown `kid`.

Usage: verify_admission.py JWKS_URL ISSUER AUDIENCE CONCERT_ID < token
Prints the admitted user's id; exits 1 with the reason otherwise.
"""

import sys

import jwt


def verify_admission(client, token, issuer, audience, concert_id):
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],
        issuer=issuer,
        audience=audience,
        options={"require": ["exp", "iss", "aud", "sub"]},
    )
    if claims.get("typ") != "admission":
        raise jwt.InvalidTokenError("not an admission token")
    if claims.get("cid") != concert_id:
        raise jwt.InvalidTokenError("an admission to another concert")
    return claims["sub"]


def main():
    jwks_url, issuer, audience, concert_id = sys.argv[1:5]
    client = jwt.PyJWKClient(jwks_url, cache_keys=True)
    token = sys.stdin.read().strip()
    try:
        print(verify_admission(client, token, issuer, audience, concert_id))
    except jwt.PyJWTError as e:
        print(f"refused: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
