//! CSRF tokens for browser sessions: a synchronizer token derived from the session token, so it
//! needs no storage, is unguessable without the HttpOnly cookie, and dies with the session.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const LABEL: &[u8] = b"leadbridge csrf v1\0";

/// The CSRF token of a session.
pub fn token_for(session: &SecretString) -> String {
    let mut hasher = Sha256::new();
    hasher.update(LABEL);
    hasher.update(session.expose_secret().as_bytes());
    hex::encode(hasher.finalize())
}

/// Compares in time independent of where the strings differ.
pub fn matches(sent: &str, expected: &str) -> bool {
    sent.len() == expected.len()
        && sent
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_per_session_and_not_the_session() {
        let a = SecretString::from("lbs_aaaa".to_owned());
        let b = SecretString::from("lbs_bbbb".to_owned());
        assert_eq!(token_for(&a), token_for(&a));
        assert_ne!(token_for(&a), token_for(&b));
        assert!(!token_for(&a).contains("aaaa"));
    }

    #[test]
    fn comparison() {
        let t = token_for(&SecretString::from("lbs_x".to_owned()));
        assert!(matches(&t, &t));
        assert!(!matches("", &t));
        assert!(!matches(&t[..63], &t));
        let mut other = t.clone().into_bytes();
        other[10] ^= 1;
        assert!(!matches(&String::from_utf8(other).unwrap(), &t));
    }
}
