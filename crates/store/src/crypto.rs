//! Secrets at rest. Phone numbers are sealed with AES-256-GCM under a key that
//! carries an id, so keys can rotate: new data is sealed with the current key,
//! old data opens with whichever key sealed it. Seeker subjects are never
//! stored at all, only a keyed hash, so a database dump can't be joined back to
//! the host app's accounts.
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anxin_domain::phone::PhoneNumber;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::collections::HashMap;

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("phone key must be 32 bytes, base64 or hex encoded")]
    BadKey,
    #[error("no phone key with id {0:?}")]
    UnknownKey(String),
    #[error("sealed phone number does not open")]
    Unsealable,
}

/// A sealed value as stored: a phone number, or a seeker's note, `ref` or
/// a cancellation's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

#[derive(Clone)]
pub struct PhoneCipher {
    current: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for PhoneCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneCipher")
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl PhoneCipher {
    /// `key` is the 32-byte key; `key_id` names it in stored rows.
    pub fn new(key_id: &str, key: &[u8]) -> Result<Self, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::BadKey)?;
        Ok(Self {
            current: key_id.to_string(),
            keys: HashMap::from([(key_id.to_string(), cipher)]),
        })
    }

    /// Adds an older key that can still open what it sealed.
    pub fn with_previous(mut self, key_id: &str, key: &[u8]) -> Result<Self, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::BadKey)?;
        self.keys.insert(key_id.to_string(), cipher);
        Ok(self)
    }

    pub fn seal(&self, phone: &PhoneNumber) -> Sealed {
        self.seal_text(phone.expose_e164())
    }

    /// Seals any private text (an expert's note on a session) like a phone.
    pub fn seal_text(&self, text: &str) -> Sealed {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let cipher = &self.keys[&self.current];
        // Encryption with a valid key and a fresh nonce does not fail for
        // inputs this small; an empty ciphertext would fail to open, loudly.
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), text.as_bytes())
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend(ct);
        Sealed {
            key_id: self.current.clone(),
            bytes,
        }
    }

    pub fn open(&self, sealed: &Sealed) -> Result<PhoneNumber, CryptoError> {
        let text = self.open_text(sealed)?;
        PhoneNumber::from_stored(&text).ok_or(CryptoError::Unsealable)
    }

    pub fn open_text(&self, sealed: &Sealed) -> Result<String, CryptoError> {
        let cipher = self
            .keys
            .get(&sealed.key_id)
            .ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.bytes.len() <= NONCE_LEN {
            return Err(CryptoError::Unsealable);
        }
        let (nonce, ct) = sealed.bytes.split_at(NONCE_LEN);
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| CryptoError::Unsealable)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Unsealable)
    }
}

/// Keyed hashes: of a host-app subject (a seeker's pseudonymous id), and of a
/// request for its idempotency record.
#[derive(Clone)]
pub struct SubjectHasher(Hmac<Sha256>);

impl SubjectHasher {
    pub fn new(key: &[u8]) -> Self {
        // HMAC takes keys of any length.
        Self(
            <Hmac<Sha256> as Mac>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts any key length")),
        )
    }

    pub fn hash(&self, subject: &str) -> Vec<u8> {
        let mut mac = self.0.clone();
        mac.update(b"anxin-seeker-subject:");
        mac.update(subject.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Keyed hash of a request, which an idempotency record keeps to tell a
    /// retry (the same request) from a reused key (another one). Keyed so a
    /// stored hash can't be brute-forced back into the phone number it covers;
    /// tagged apart from subjects so neither can stand for the other.
    pub fn request_hash(&self, request: &str) -> Vec<u8> {
        let mut mac = self.0.clone();
        mac.update(b"anxin-request:");
        mac.update(request.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// `request_hash` as text, for records kept in Redis.
    pub fn request_hash_text(&self, request: &str) -> String {
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(self.request_hash(request))
    }
}

/// A fresh bearer secret (a sign-in link's, a session's): 32 random bytes
/// as URL-safe text, with the hash that is all that gets stored.
pub fn new_secret() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = secret_hash(&secret);
    (secret, hash)
}

/// The stored form of a bearer secret. The secrets are random and long, so
/// a plain SHA-256 suffices: there is nothing to guess from the hash.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    use sha2::Digest;
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_phones_open_only_with_their_key_and_never_show_in_plain() {
        let phone = PhoneNumber::parse("phone", "+8613812345678").unwrap();
        let old = PhoneCipher::new("k1", &[1u8; 32]).unwrap();
        let sealed = old.seal(&phone);
        assert!(!String::from_utf8_lossy(&sealed.bytes).contains("13812345678"));
        assert_eq!(old.open(&sealed).unwrap(), phone);

        let rotated = PhoneCipher::new("k2", &[2u8; 32])
            .unwrap()
            .with_previous("k1", &[1u8; 32])
            .unwrap();
        assert_eq!(rotated.open(&sealed).unwrap(), phone);
        assert_eq!(rotated.seal(&phone).key_id, "k2");

        let stranger = PhoneCipher::new("k1", &[3u8; 32]).unwrap();
        assert!(stranger.open(&sealed).is_err());
    }
}
