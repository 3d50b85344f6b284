//! The tokens' unit tests: kinds, claims, keys, rotation, forgeries.
use super::*;

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn key(seed: &str) -> SigningKey {
    SigningKey::from_public_seed(seed)
}

/// Token keys with this HS256 secret and this Ed25519 key set (first signs).
fn keys_with(secret: &str, set: &[SigningKey]) -> TokenKeys {
    TokenKeys::new(&TokenConfig {
        key: SecretString::from(secret),
        signing_keys: set.to_vec(),
        issuer: "https://line.example".into(),
        audience: "tickets".into(),
        access_ttl: Duration::from_secs(3600),
        queue_ttl: Duration::from_secs(3600),
        verified_cache: 1_000,
    })
}

fn keys(secret: &str) -> TokenKeys {
    keys_with(secret, &[key("one")])
}

/// A Unix time as a chrono time.
fn at(unix: u64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix as i64, 0).unwrap()
}

fn queue_token(keys: &TokenKeys) -> String {
    let jti = (unix_now() * 1_000_000).to_string();
    keys.issue_queue(UserId::new(), ConcertId::new(), &jti, at(0))
}

#[test]
fn tokens_verify_with_their_own_kind_only() {
    let keys = keys(KEY);
    let user = UserId::new();
    let concert = ConcertId::new();
    let access = keys.issue_access(user);
    let joined_us = unix_now() * 1_000_000 + 123_456;
    let queue = keys.issue_queue(user, concert, &joined_us.to_string(), at(0));
    let claims = keys.verify_queue(&queue).unwrap();
    let (admission, _) = keys.issue_admission(&claims, Duration::from_secs(60));

    assert_eq!(keys.verify_access(&access), Ok(user));
    assert_eq!((claims.sub, claims.cid), (user, concert));
    assert_eq!(claims.jti, joined_us.to_string());
    let admitted = keys.verify_admission(&admission).unwrap();
    assert_eq!(
        (admitted.sub, admitted.cid, admitted.jti),
        (user, concert, claims.jti)
    );

    assert_eq!(keys.verify_access(&queue), Err(TokenError::Invalid));
    assert_eq!(keys.verify_access(&admission), Err(TokenError::Invalid));
    assert_eq!(keys.verify_queue(&access).unwrap_err(), TokenError::Invalid);
    assert_eq!(
        keys.verify_queue(&admission).unwrap_err(),
        TokenError::Invalid
    );
    assert_eq!(
        keys.verify_admission(&queue).unwrap_err(),
        TokenError::Invalid
    );
    assert_eq!(
        keys.verify_admission(&access).unwrap_err(),
        TokenError::Invalid
    );
}

#[test]
fn signed_tokens_carry_kid_issuer_and_audience() {
    let keys = keys(KEY);
    let token = queue_token(&keys);
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some(key("one").kid()));
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&token)
        .unwrap()
        .claims;
    assert_eq!(claims["iss"], "https://line.example");
    assert_eq!(claims["aud"], "tickets");
    let jwks: serde_json::Value = serde_json::from_str(keys.jwks()).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], key("one").kid());
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
}

#[test]
fn another_issuer_audience_or_unknown_key_is_refused() {
    let ours = keys(KEY);
    let token = queue_token(&ours);
    let other = |issuer: &str, audience: &str| {
        TokenKeys::new(&TokenConfig {
            key: SecretString::from(KEY),
            signing_keys: vec![key("one")],
            issuer: issuer.into(),
            audience: audience.into(),
            access_ttl: Duration::from_secs(3600),
            queue_ttl: Duration::from_secs(3600),
            verified_cache: 1_000,
        })
    };
    assert!(
        other("https://line.example", "tickets")
            .verify_queue(&token)
            .is_ok()
    );
    assert_eq!(
        other("https://evil.example", "tickets").verify_queue(&token),
        Err(TokenError::Invalid)
    );
    assert_eq!(
        other("https://line.example", "shop").verify_queue(&token),
        Err(TokenError::Invalid)
    );
    // Signed by a key outside the set.
    let stranger = keys_with(KEY, &[key("two")]);
    assert_eq!(stranger.verify_queue(&token), Err(TokenError::Invalid));
}

/// The rotation of docs/OPERATIONS.md: publish the next key (verify only),
/// then sign with it while the old one still verifies, then drop the old one.
#[test]
fn a_rotation_breaks_no_live_token() {
    let (old, next) = (key("old"), key("next"));
    let before = keys_with(KEY, std::slice::from_ref(&old));
    let signed_before = queue_token(&before);

    // Step 1: the next key is published, the old one still signs.
    let published = keys_with(KEY, &[old.clone(), next.clone()]);
    assert!(published.verify_queue(&signed_before).is_ok());
    assert!(published.jwks().contains(next.kid()));
    assert_eq!(published.signer_kid(), old.kid());

    // Step 2: the next key signs; a token signed before still verifies.
    let rotated = keys_with(KEY, &[next.clone(), old.clone()]);
    assert_eq!(rotated.signer_kid(), next.kid());
    assert!(rotated.verify_queue(&signed_before).is_ok());
    let signed_after = queue_token(&rotated);
    // A server still at step 1 verifies the new signer's tokens too.
    assert!(published.verify_queue(&signed_after).is_ok());

    // Step 3, once the old key's last token expired: it is dropped.
    let done = keys_with(KEY, &[next]);
    assert!(done.verify_queue(&signed_after).is_ok());
    assert_eq!(done.verify_queue(&signed_before), Err(TokenError::Invalid));
}

#[test]
fn a_queue_token_lives_its_ttl_from_now_or_from_the_opening_whichever_is_later() {
    let keys = keys(KEY);
    let (user, concert) = (UserId::new(), ConcertId::new());
    let now = unix_now();
    let claims = |opens_at| {
        let token = keys.issue_queue(user, concert, "1700000000000001", opens_at);
        keys.verify_queue(&token).unwrap()
    };
    // Opened a day ago: from now.
    let open = claims(at(now - 86_400));
    assert!(open.iat >= now && open.exp == open.iat + 3600, "{open:?}");
    // Opens in ten days (and a half second, rounded up): from the opening.
    let opening = Utc::now() + chrono::Duration::days(10);
    let opening = opening
        - chrono::Duration::nanoseconds(i64::from(opening.timestamp_subsec_nanos()))
        + chrono::Duration::milliseconds(500);
    let early = claims(opening);
    assert_eq!(
        early.exp,
        opening.timestamp() as u64 + 1 + 3600,
        "{early:?}"
    );
    assert!(early.iat >= now && early.iat < opening.timestamp() as u64);
}

#[test]
fn forged_and_expired_tokens_are_told_apart() {
    let user = UserId::new();
    let forged = keys("another-key-another-key-another-key").issue_access(user);
    assert_eq!(keys(KEY).verify_access(&forged), Err(TokenError::Invalid));

    // Issued at the Unix epoch plus one second: long expired.
    let old = keys(KEY).sign(&QueueClaims {
        sub: user,
        cid: ConcertId::new(),
        jti: "1000000".into(),
        iat: 1,
        exp: 3601,
        typ: QUEUE.into(),
    });
    assert_eq!(keys(KEY).verify_queue(&old), Err(TokenError::Expired));
    let (claims, expired) = keys(KEY).verify_queue_any_age(&old).unwrap();
    assert!(expired);
    assert_eq!(claims.sub, user);
    assert_eq!(
        keys_with(KEY, &[key("two")]).verify_queue_any_age(&old),
        Err(TokenError::Invalid)
    );

    assert_eq!(
        keys(KEY).verify_access("not.a.jwt"),
        Err(TokenError::Invalid)
    );
}

/// A queue token's claims signed HS256 with the access secret (which a
/// holder of that secret could do) are not a queue token.
#[test]
fn a_queue_token_must_be_eddsa_with_a_known_kid() {
    let keys = keys(KEY);
    let claims = keys.verify_queue(&queue_token(&keys)).unwrap();
    let registered = Registered {
        iss: "https://line.example",
        aud: "tickets",
        claims: &claims,
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key("one").kid().to_owned());
    let hs = jsonwebtoken::encode(
        &header,
        &registered,
        &EncodingKey::from_secret(KEY.as_bytes()),
    )
    .unwrap();
    assert_eq!(keys.verify_queue(&hs), Err(TokenError::Invalid));
    // No kid at all.
    let signer = EncodingKey::from_ed_der(key("one").pkcs8_der());
    let bare = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &registered, &signer).unwrap();
    assert_eq!(keys.verify_queue(&bare), Err(TokenError::Invalid));
}

/// A token whose signature was checked is remembered; whatever the memory
/// holds, a token is still refused for its kind, its age and its bytes.
#[test]
fn a_remembered_token_is_still_refused_for_its_kind_its_age_and_any_changed_byte() {
    let keys = keys(KEY);
    let queue = queue_token(&keys);
    let first = keys.verify_queue(&queue).unwrap();
    assert_eq!(keys.verified_queue.len(), 1);
    assert_eq!(keys.verify_queue(&queue), Ok(first.clone()));

    // Not an admission token because it was remembered as a queue token.
    assert_eq!(keys.verify_admission(&queue), Err(TokenError::Invalid));

    // A changed signature is checked, refused and not remembered.
    let mut forged = queue.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(keys.verify_queue(&forged), Err(TokenError::Invalid));
    // A changed claim under the remembered signature is refused too.
    let parts: Vec<&str> = queue.split('.').collect();
    let other_claims = queue_token(&keys);
    let swapped = format!(
        "{}.{}.{}",
        parts[0],
        other_claims.split('.').nth(1).unwrap(),
        parts[2]
    );
    assert_eq!(keys.verify_queue(&swapped), Err(TokenError::Invalid));
    assert_eq!(keys.verified_queue.len(), 1, "only the genuine token");

    // `exp` is read on every use: a remembered admission whose end has passed
    // (its claims aged in place here, as time would age them) is refused.
    let (admission, _) = keys.issue_admission(&first, Duration::from_secs(60));
    let mut claims = keys.verify_admission(&admission).unwrap();
    claims.exp = unix_now() - 1;
    keys.verified_admission.remember(&admission, &claims);
    assert_eq!(keys.verify_admission(&admission), Err(TokenError::Expired));
    claims.exp = unix_now() + 60;
    keys.verified_admission.remember(&admission, &claims);
    assert_eq!(keys.verify_admission(&admission), Ok(claims));

    // And a remembered queue token is told expired the same way.
    let mut aged = first;
    aged.exp = unix_now() - 1;
    keys.verified_queue.remember(&queue, &aged);
    assert_eq!(keys.verify_queue(&queue), Err(TokenError::Expired));
    assert_eq!(keys.verify_queue_any_age(&queue), Ok((aged, true)));
}

#[test]
fn with_no_memory_every_signature_is_checked() {
    let config = TokenConfig {
        key: SecretString::from(KEY),
        signing_keys: vec![key("one")],
        issuer: "https://line.example".into(),
        audience: "tickets".into(),
        access_ttl: Duration::from_secs(3600),
        queue_ttl: Duration::from_secs(3600),
        verified_cache: 0,
    };
    let keys = TokenKeys::new(&config);
    let queue = queue_token(&keys);
    assert!(keys.verify_queue(&queue).is_ok());
    assert!(keys.verify_queue(&queue).is_ok());
    assert_eq!(keys.verified_queue.len(), 0);
}
