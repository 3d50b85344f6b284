//! Stateless TLS 1.3 session tickets whose keys every server can derive: a
//! returning browser resumes its session (no certificate signature, no full
//! handshake) on whichever server it reaches, also after restarts, without a
//! per-server session cache that a few hundred other connections would evict.
//!
//! Time is cut into periods of `rotation`; the key of period `e` is
//! HKDF-SHA256(secret, info = `e`), so servers that share the secret (and a
//! clock within a period) share the keys, and nothing is stored. A ticket is
//! sealed with AES-256-GCM under the current period's key and names its period;
//! it opens during its own period and the next (clocks a period apart are
//! also forgiven one period ahead), so it lives between one and two periods.
//!
//! A ticket holds the resumption secret of its session. TLS 1.3 resumption in
//! rustls always mixes a fresh (EC)DHE exchange in, so a stolen secret does not
//! decrypt recorded traffic, but whoever holds it could answer a resuming
//! client as the server: the secret is as sensitive as the certificate's key.
//! TLS 1.2 sessions get no ticket: theirs would be sent in the clear and resume
//! with no new key exchange, so the secret (which derives every period's key)
//! would later decrypt every recorded TLS 1.2 session.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Prk, Salt};
use rustls::server::ProducesTickets;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a ticket starts with: its format version, then its period.
const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 8;
const SALT: &[u8] = b"lineup tls 1.3 session tickets v1";

/// Seals and opens session tickets with keys derived from a shared secret.
pub struct SharedTicketer {
    prk: Prk,
    rotation_secs: u64,
}

impl std::fmt::Debug for SharedTicketer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTicketer")
            .field("rotation_secs", &self.rotation_secs)
            .finish_non_exhaustive()
    }
}

impl SharedTicketer {
    /// Keys from `secret`, a new one every `rotation` (at least a second).
    pub fn new(secret: &[u8], rotation: Duration) -> Self {
        Self {
            prk: Salt::new(HKDF_SHA256, SALT).extract(secret),
            rotation_secs: rotation.as_secs().max(1),
        }
    }

    /// Keys from a random secret: tickets open on this process only.
    pub fn random(rotation: Duration) -> anyhow::Result<Self> {
        let mut secret = [0u8; 32];
        aws_lc_rs::rand::fill(&mut secret)
            .map_err(|_| anyhow::anyhow!("no randomness for the TLS ticket secret"))?;
        Ok(Self::new(&secret, rotation))
    }

    fn period_now(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        now / self.rotation_secs
    }

    fn key(&self, period: u64) -> Option<LessSafeKey> {
        let info = period.to_be_bytes();
        let info = [info.as_slice()];
        let okm = self.prk.expand(&info, &AES_256_GCM).ok()?;
        let mut key = [0u8; 32];
        okm.fill(&mut key).ok()?;
        Some(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).ok()?))
    }

    fn seal(&self, period: u64, plain: &[u8]) -> Option<Vec<u8>> {
        let key = self.key(period)?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let mut ticket = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plain.len() + 16);
        ticket.push(VERSION);
        ticket.extend_from_slice(&period.to_be_bytes());
        let header: [u8; HEADER_LEN] = ticket[..HEADER_LEN].try_into().ok()?;
        ticket.extend_from_slice(&nonce);
        let mut sealed = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(header),
            &mut sealed,
        )
        .ok()?;
        ticket.extend_from_slice(&sealed);
        Some(ticket)
    }

    fn open(&self, now_period: u64, ticket: &[u8]) -> Option<Vec<u8>> {
        if ticket.len() < HEADER_LEN + NONCE_LEN + 16 || ticket[0] != VERSION {
            return None;
        }
        let period = u64::from_be_bytes(ticket[1..HEADER_LEN].try_into().ok()?);
        // This period and the one before; one ahead for a server whose clock is.
        // (The period is the client's to write: no sum here may overflow.)
        if period.saturating_add(1) < now_period || period > now_period.saturating_add(1) {
            return None;
        }
        let key = self.key(period)?;
        let header: [u8; HEADER_LEN] = ticket[..HEADER_LEN].try_into().ok()?;
        let nonce =
            Nonce::try_assume_unique_for_key(&ticket[HEADER_LEN..HEADER_LEN + NONCE_LEN]).ok()?;
        let mut sealed = ticket[HEADER_LEN + NONCE_LEN..].to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(header), &mut sealed)
            .ok()?;
        Some(plain.to_vec())
    }
}

impl ProducesTickets for SharedTicketer {
    fn enabled(&self) -> bool {
        true
    }

    /// The shortest a ticket made now stays valid: one full period.
    fn lifetime(&self) -> u32 {
        u32::try_from(self.rotation_secs).unwrap_or(u32::MAX)
    }

    /// Only TLS 1.3 sessions: a TLS 1.2 one (whose ticket travels in the clear
    /// and resumes with no new key exchange) gets an empty ticket, which rustls
    /// sends as "none", and resumes by its session id on this server only.
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        if session_version(plain)? != TLS13 {
            return None;
        }
        self.seal(self.period_now(), plain)
    }

    /// A TLS 1.2 session (sealed by a build from before they got none) does not
    /// resume from its ticket either.
    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let plain = self.open(self.period_now(), cipher)?;
        (session_version(&plain)? == TLS13).then_some(plain)
    }
}

/// TLS 1.3's protocol version as rustls encodes it.
const TLS13: [u8; 2] = [0x03, 0x04];

/// The protocol version of a session as rustls encodes it for a ticket (its
/// `ServerSessionValue`: an optional server name, then the version), or `None`
/// when it does not read as one (then no ticket is made: the resumption tests
/// in tests/api/connections.rs notice).
fn session_version(plain: &[u8]) -> Option<[u8; 2]> {
    let at = match *plain.first()? {
        0 => 1,
        1 => 2 + usize::from(*plain.get(1)?),
        _ => return None,
    };
    plain.get(at..at + 2)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_ticket_opens_on_any_server_with_the_secret_for_its_period_and_the_next() {
        let one = SharedTicketer::new(b"the same secret on every server..", HOUR);
        let other = SharedTicketer::new(b"the same secret on every server..", HOUR);
        let ticket = one.seal(100, b"session state").unwrap();
        for period in [99, 100, 101] {
            assert_eq!(
                other.open(period, &ticket).as_deref(),
                Some(&b"session state"[..])
            );
        }
        assert_eq!(
            other.open(102, &ticket),
            None,
            "two periods later it is retired"
        );
        assert_eq!(other.open(98, &ticket), None);
    }

    #[test]
    fn another_secret_or_a_changed_byte_opens_nothing() {
        let one = SharedTicketer::new(b"the same secret on every server..", HOUR);
        let stranger = SharedTicketer::new(b"another secret altogether........", HOUR);
        let ticket = one.seal(7, b"session state").unwrap();
        assert_eq!(stranger.open(7, &ticket), None);
        for at in 0..ticket.len() {
            let mut bent = ticket.clone();
            bent[at] ^= 1;
            assert_eq!(one.open(7, &bent), None, "byte {at} changed and it opened");
        }
        assert_eq!(one.open(7, &ticket[..20]), None);
        assert_eq!(one.open(7, &[]), None);
    }

    #[test]
    fn each_period_has_its_own_key() {
        let one = SharedTicketer::new(b"the same secret on every server..", HOUR);
        let mut ticket = one.seal(7, b"session state").unwrap();
        // Claiming a later period (which the AAD covers) fails.
        ticket[1..HEADER_LEN].copy_from_slice(&8u64.to_be_bytes());
        assert_eq!(one.open(8, &ticket), None);
    }

    #[test]
    fn a_ticket_naming_the_last_period_there_is_opens_nothing() {
        // A client writes the ticket (a PSK identity) it offers: the period is
        // whatever it says, the largest included.
        let one = SharedTicketer::new(b"the same secret on every server..", HOUR);
        let mut ticket = one.seal(7, b"session state").unwrap();
        ticket[1..HEADER_LEN].copy_from_slice(&u64::MAX.to_be_bytes());
        for now in [7, u64::MAX - 1, u64::MAX] {
            assert_eq!(one.open(now, &ticket), None);
        }
    }
}
