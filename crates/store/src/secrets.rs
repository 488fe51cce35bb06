//! CRM credentials and tokens encrypted at rest: the keyring (versioned AES-256-GCM keys from
//! configuration or a 0600 file in the data directory) and the sealed format stored in the database.
//!
//! A sealed value is `key version (1 byte) ‖ nonce (12 random bytes) ‖ ciphertext ‖ tag (16 bytes)`.
//! The associated data binds it to its tenant, connection and name, so a value copied into another
//! row does not decrypt. Keys rotate by adding a higher version: it seals from then on, older ones
//! still open what they sealed until [`crate::Store::reseal_secrets`] rewrites it.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use domain::ids::{CrmConnectionId, TenantId};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// The key file in the data directory when no key is configured.
pub const KEY_FILE_NAME: &str = "secret-keys";
const AAD_LABEL: &[u8] = b"leadbridge crm secret v1";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no encryption key is configured for CRM secrets")]
    NoKeyring,
    #[error(
        "an encryption key must be 64 hexadecimal characters, optionally prefixed by its version and ':' (e.g. 2:0a1b…)"
    )]
    MalformedKey,
    #[error("key version {0} is listed twice")]
    DuplicateVersion(u8),
    #[error("key version 0 is reserved; versions run from 1 to 255")]
    VersionZero,
    #[error(
        "a stored secret was sealed with key version {0}, which is not configured: add that key back"
    )]
    UnknownKeyVersion(u8),
    /// Wrong key, or the value was altered or copied from another tenant, connection or name.
    #[error("a stored secret cannot be decrypted with the configured keys")]
    Undecryptable,
    #[error("the secret is too large to encrypt")]
    TooLarge,
    #[error("a stored secret is too short to be a sealed value")]
    Truncated,
    #[error("the key file {path} cannot be used: {source}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the key file {0} is malformed: one '<version> <64 hex characters>' per line")]
    MalformedKeyFile(PathBuf),
}

/// What a sealed secret belongs to; it is the associated data of the encryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecretOwner<'a> {
    pub tenant: TenantId,
    pub connection: CrmConnectionId,
    pub name: &'a str,
}

impl SecretOwner<'_> {
    fn associated_data(&self, version: u8) -> Vec<u8> {
        let mut aad = Vec::with_capacity(AAD_LABEL.len() + 1 + 32 + self.name.len());
        aad.extend_from_slice(AAD_LABEL);
        aad.push(version);
        aad.extend_from_slice(self.tenant.0.as_bytes());
        aad.extend_from_slice(self.connection.0.as_bytes());
        aad.extend_from_slice(self.name.as_bytes());
        aad
    }
}

/// The versioned keys; the highest version seals, every version opens.
#[derive(Clone)]
pub struct Keyring {
    keys: BTreeMap<u8, Aes256Gcm>,
    current: u8,
    sealing: Aes256Gcm,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .field("current", &self.current)
            .finish()
    }
}

impl Keyring {
    /// A keyring of one key.
    pub fn single(version: u8, key: &[u8; 32]) -> Result<Self, SecretError> {
        Keyring::from_keys([(version, *key)])
    }

    pub fn from_keys(keys: impl IntoIterator<Item = (u8, [u8; 32])>) -> Result<Self, SecretError> {
        let mut ring = BTreeMap::new();
        for (version, key) in keys {
            if version == 0 {
                return Err(SecretError::VersionZero);
            }
            let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| SecretError::MalformedKey)?;
            if ring.insert(version, cipher).is_some() {
                return Err(SecretError::DuplicateVersion(version));
            }
        }
        let (current, sealing) = ring
            .iter()
            .next_back()
            .map(|(version, cipher)| (*version, cipher.clone()))
            .ok_or(SecretError::MalformedKey)?;
        Ok(Keyring {
            keys: ring,
            current,
            sealing,
        })
    }

    /// Parses configuration: one key as 64 hex characters (version 1), or a comma-separated list of
    /// `version:hex` entries for rotation.
    pub fn from_config(spec: &SecretString) -> Result<Self, SecretError> {
        let mut keys = Vec::new();
        for entry in spec.expose_secret().split(',') {
            let entry = entry.trim();
            let (version, hex_key) = match entry.split_once(':') {
                Some((version, hex_key)) => (
                    version
                        .trim()
                        .parse::<u8>()
                        .map_err(|_| SecretError::MalformedKey)?,
                    hex_key.trim(),
                ),
                None => (1, entry),
            };
            keys.push((version, parse_key(hex_key)?));
        }
        Keyring::from_keys(keys)
    }

    /// The keyring kept in `<data_dir>/secret-keys`, created with one fresh key (readable by the
    /// owner only) when it does not exist yet.
    pub fn load_or_generate(data_dir: &Path) -> Result<Self, SecretError> {
        let path = data_dir.join(KEY_FILE_NAME);
        let key_file_error = |source| SecretError::KeyFile {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Keyring::parse_key_file(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(key_file_error)?;
                let key = random_key();
                let text = format!("1 {}\n", hex::encode(key));
                if create_private_file(&path, &text).map_err(key_file_error)? {
                    Keyring::single(1, &key)
                } else {
                    // Another process created it first: use its key, not ours.
                    let text = std::fs::read_to_string(&path).map_err(key_file_error)?;
                    Keyring::parse_key_file(&path, &text)
                }
            }
            Err(e) => Err(key_file_error(e)),
        }
    }

    /// Adds a fresh key with the next version to the key file; it seals from now on.
    pub fn rotate_key_file(data_dir: &Path) -> Result<Self, SecretError> {
        let path = data_dir.join(KEY_FILE_NAME);
        let key_file_error = |source| SecretError::KeyFile {
            path: path.clone(),
            source,
        };
        let text = std::fs::read_to_string(&path).map_err(key_file_error)?;
        let ring = Keyring::parse_key_file(&path, &text)?;
        let next = ring
            .current
            .checked_add(1)
            .ok_or_else(|| SecretError::MalformedKeyFile(path.clone()))?;
        let key = random_key();
        let mut text = text;
        if !text.ends_with('\n') && !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("{next} {}\n", hex::encode(key)));
        write_private_file(&path, &text).map_err(key_file_error)?;
        Keyring::parse_key_file(&path, &text)
    }

    fn parse_key_file(path: &Path, text: &str) -> Result<Self, SecretError> {
        let malformed = || SecretError::MalformedKeyFile(path.to_owned());
        let mut keys = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (version, hex_key) = line.split_once(' ').ok_or_else(malformed)?;
            let version = version.parse::<u8>().map_err(|_| malformed())?;
            keys.push((version, parse_key(hex_key.trim()).map_err(|_| malformed())?));
        }
        Keyring::from_keys(keys)
    }

    pub fn current_version(&self) -> u8 {
        self.current
    }

    pub fn seal(
        &self,
        owner: &SecretOwner<'_>,
        secret: &SecretString,
    ) -> Result<Vec<u8>, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let version = self.current;
        let aad = owner.associated_data(version);
        let payload = Payload {
            msg: secret.expose_secret().as_bytes(),
            aad: &aad,
        };
        let nonce_array = Nonce::from(nonce);
        let ciphertext = self
            .sealing
            .encrypt(&nonce_array, payload)
            .map_err(|_| SecretError::TooLarge)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(version);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    pub fn open(
        &self,
        owner: &SecretOwner<'_>,
        sealed: &[u8],
    ) -> Result<SecretString, SecretError> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN {
            return Err(SecretError::Truncated);
        }
        let (version, rest) = sealed.split_at(1);
        let version = version[0];
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let cipher = self
            .keys
            .get(&version)
            .ok_or(SecretError::UnknownKeyVersion(version))?;
        let nonce = Nonce::try_from(nonce).map_err(|_| SecretError::Truncated)?;
        let aad = owner.associated_data(version);
        let plain = cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SecretError::Undecryptable)?;
        let text = String::from_utf8(plain).map_err(|_| SecretError::Undecryptable)?;
        Ok(SecretString::from(text))
    }

    /// The version a sealed value was sealed with, if it has one.
    pub fn version_of(sealed: &[u8]) -> Option<u8> {
        sealed.first().copied()
    }
}

/// A fresh random key as 64 hex characters, for configuration.
pub fn generate_key_hex() -> SecretString {
    SecretString::from(hex::encode(random_key()))
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}

fn parse_key(hex_key: &str) -> Result<[u8; 32], SecretError> {
    let bytes = hex::decode(hex_key).map_err(|_| SecretError::MalformedKey)?;
    bytes.try_into().map_err(|_| SecretError::MalformedKey)
}

/// Creates the file whole (written aside, then linked into place) unless it exists; `false`
/// when another process created it in between.
fn create_private_file(path: &Path, text: &str) -> std::io::Result<bool> {
    let tmp = private_temp_file(path, text)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Replaces the file whole, so a crash never leaves a half-written key file.
fn write_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = private_temp_file(path, text)?;
    std::fs::rename(&tmp, path)
}

fn private_temp_file(path: &Path, text: &str) -> std::io::Result<PathBuf> {
    let tmp = path.with_extension(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn owner(name: &str) -> SecretOwner<'_> {
        SecretOwner {
            tenant: TenantId(Uuid::from_u128(1)),
            connection: CrmConnectionId(Uuid::from_u128(2)),
            name,
        }
    }

    #[test]
    fn sealed_values_open_only_for_their_owner() {
        let ring = Keyring::single(1, &[7; 32]).unwrap();
        let secret = SecretString::from("client secret ✓".to_owned());
        let sealed = ring.seal(&owner("client_secret"), &secret).unwrap();
        assert_eq!(sealed[0], 1);
        assert_eq!(sealed.len(), 1 + 12 + "client secret ✓".len() + 16);
        let opened = ring.open(&owner("client_secret"), &sealed).unwrap();
        assert_eq!(opened.expose_secret(), "client secret ✓");
        assert!(matches!(
            ring.open(&owner("refresh_token"), &sealed),
            Err(SecretError::Undecryptable)
        ));
        let other_tenant = SecretOwner {
            tenant: TenantId(Uuid::from_u128(9)),
            ..owner("client_secret")
        };
        assert!(matches!(
            ring.open(&other_tenant, &sealed),
            Err(SecretError::Undecryptable)
        ));
    }

    #[test]
    fn the_same_secret_seals_differently_each_time() {
        let ring = Keyring::single(1, &[7; 32]).unwrap();
        let secret = SecretString::from("s".to_owned());
        assert_ne!(
            ring.seal(&owner("a"), &secret).unwrap(),
            ring.seal(&owner("a"), &secret).unwrap()
        );
    }

    #[test]
    fn tampered_or_truncated_values_are_refused() {
        let ring = Keyring::single(1, &[7; 32]).unwrap();
        let mut sealed = ring
            .seal(&owner("a"), &SecretString::from("secret".to_owned()))
            .unwrap();
        assert!(matches!(
            ring.open(&owner("a"), &sealed[..20]),
            Err(SecretError::Truncated)
        ));
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(matches!(
            ring.open(&owner("a"), &sealed),
            Err(SecretError::Undecryptable)
        ));
        sealed[0] = 5;
        assert!(matches!(
            ring.open(&owner("a"), &sealed),
            Err(SecretError::UnknownKeyVersion(5))
        ));
    }

    #[test]
    fn rotation_seals_with_the_newest_key_and_opens_with_all() {
        let old = Keyring::single(1, &[1; 32]).unwrap();
        let sealed_old = old
            .seal(&owner("a"), &SecretString::from("x".to_owned()))
            .unwrap();
        let rotated = Keyring::from_keys([(1, [1; 32]), (2, [2; 32])]).unwrap();
        assert_eq!(rotated.current_version(), 2);
        assert_eq!(
            rotated
                .open(&owner("a"), &sealed_old)
                .unwrap()
                .expose_secret(),
            "x"
        );
        let sealed_new = rotated
            .seal(&owner("a"), &SecretString::from("y".to_owned()))
            .unwrap();
        assert_eq!(sealed_new[0], 2);
        assert!(old.open(&owner("a"), &sealed_new).is_err());
    }

    #[test]
    fn configuration_accepts_one_key_or_a_versioned_list() {
        let hex1 = "11".repeat(32);
        let hex2 = "22".repeat(32);
        let one = Keyring::from_config(&SecretString::from(hex1.clone())).unwrap();
        assert_eq!(one.current_version(), 1);
        let two = Keyring::from_config(&SecretString::from(format!("1:{hex1}, 3:{hex2}"))).unwrap();
        assert_eq!(two.current_version(), 3);
        for bad in [
            "abc".to_owned(),
            "zz".repeat(32),
            "11".repeat(31),
            format!("0:{hex1}"),
            format!("1:{hex1},1:{hex2}"),
            format!("x:{hex1}"),
            String::new(),
        ] {
            assert!(
                Keyring::from_config(&SecretString::from(bad.clone())).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_output_shows_versions_not_keys() {
        let ring = Keyring::single(4, &[0xAB; 32]).unwrap();
        let shown = format!("{ring:?}");
        assert!(shown.contains("current: 4"), "{shown}");
        assert!(!shown.to_lowercase().contains("abab"), "{shown}");
    }

    #[test]
    fn the_key_file_is_generated_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = Keyring::load_or_generate(dir.path()).unwrap();
        let sealed = first
            .seal(&owner("a"), &SecretString::from("x".to_owned()))
            .unwrap();
        let again = Keyring::load_or_generate(dir.path()).unwrap();
        assert_eq!(
            again.open(&owner("a"), &sealed).unwrap().expose_secret(),
            "x"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let rotated = Keyring::rotate_key_file(dir.path()).unwrap();
        assert_eq!(rotated.current_version(), 2);
        assert_eq!(
            rotated.open(&owner("a"), &sealed).unwrap().expose_secret(),
            "x"
        );
        assert_eq!(
            Keyring::load_or_generate(dir.path())
                .unwrap()
                .current_version(),
            2
        );
    }

    #[test]
    fn processes_starting_together_share_one_generated_key() {
        let dir = tempfile::tempdir().unwrap();
        let rings: Vec<Keyring> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| Keyring::load_or_generate(dir.path()).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let sealed = rings[0]
            .seal(&owner("a"), &SecretString::from("x".to_owned()))
            .unwrap();
        for ring in &rings {
            assert_eq!(
                ring.open(&owner("a"), &sealed).unwrap().expose_secret(),
                "x"
            );
        }
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "only the key file remains");
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE_NAME), "1 nothex\n").unwrap();
        assert!(matches!(
            Keyring::load_or_generate(dir.path()),
            Err(SecretError::MalformedKeyFile(_))
        ));
    }
}
