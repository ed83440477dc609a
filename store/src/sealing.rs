//! Secrets the server must read back (an SSO client secret, a TOTP seed) are sealed before
//! they reach the database: XChaCha20-Poly1305 under `DEVPULSE_SECRET_KEY`, bound to the row's
//! owner so a sealed value copied into another workspace's or person's row does not open.

use std::path::Path;

use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    XChaCha20Poly1305, XNonce,
};
use sha2::{Digest, Sha256};

pub struct Sealer {
    cipher: XChaCha20Poly1305,
    /// There is a lasting key (configured, or development's): what is sealed now opens after
    /// a restart.
    lasting: bool,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Sealer")
            .field("lasting", &self.lasting)
            .finish_non_exhaustive()
    }
}

/// A sealed value that does not open with this server's key (another key, another owner, or
/// tampered with).
#[derive(Debug, thiserror::Error)]
#[error("a stored secret cannot be read with this server's DEVPULSE_SECRET_KEY")]
pub struct Unreadable;

impl Sealer {
    /// `key`: 64 hex digits from configuration; without one, a development key kept in
    /// `data_dir` (`None`: in production, where nothing may be sealed without a configured key;
    /// the sealer then refuses to seal, see [`Sealer::can_seal`]).
    pub fn new(key: Option<&str>, data_dir: Option<&Path>) -> Result<Sealer, String> {
        let (bytes, lasting) = match (key, data_dir) {
            (Some(hex_key), _) => {
                let b = hex::decode(hex_key.trim())
                    .ok()
                    .filter(|b| b.len() == 32)
                    .ok_or("DEVPULSE_SECRET_KEY must be 64 hex digits")?;
                (b, true)
            }
            (None, Some(dir)) => (dev_key(dir)?, true),
            (None, None) => (
                Sha256::digest(crate::secrets::random_token(32)).to_vec(),
                false,
            ),
        };
        Ok(Sealer {
            cipher: XChaCha20Poly1305::new_from_slice(&bytes).map_err(|e| e.to_string())?,
            lasting,
        })
    }

    pub fn can_seal(&self) -> bool {
        self.lasting
    }

    /// `secret` sealed for storage: a random nonce, then the ciphertext, bound to `owner`.
    pub fn seal(&self, secret: &[u8], owner: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the OS random source works");
        let mut out = nonce.to_vec();
        out.extend(
            self.cipher
                .encrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: secret,
                        aad: owner,
                    },
                )
                .expect("sealing cannot fail"),
        );
        out
    }

    pub fn open(&self, sealed: &[u8], owner: &[u8]) -> Result<Vec<u8>, Unreadable> {
        if sealed.len() < 24 {
            return Err(Unreadable);
        }
        let (nonce, body) = sealed.split_at(24);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: owner,
                },
            )
            .map_err(|_| Unreadable)
    }

    pub fn open_text(&self, sealed: &[u8], owner: &[u8]) -> Result<String, Unreadable> {
        String::from_utf8(self.open(sealed, owner)?).map_err(|_| Unreadable)
    }
}

/// The development sealing key: random, kept in `data_dir` (0600), so secrets sealed by one
/// run open in the next.
fn dev_key(data_dir: &Path) -> Result<Vec<u8>, String> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let path = data_dir.join("sealing-dev.key");
    std::fs::create_dir_all(data_dir).map_err(|e| e.to_string())?;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut f) => {
            let k = crate::secrets::random_token(32);
            f.write_all(k.as_bytes()).map_err(|e| e.to_string())?;
            f.sync_all().map_err(|e| e.to_string())?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Sha256::digest(text.trim().as_bytes()).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_owner() {
        let s = Sealer::new(Some(&"ab".repeat(32)), None).unwrap();
        let sealed = s.seal(b"s3cret", b"tenant-a");
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(s.open_text(&sealed, b"tenant-a").unwrap(), "s3cret");
        assert!(s.open(&sealed, b"tenant-b").is_err(), "bound to its owner");
        let other = Sealer::new(Some(&"cd".repeat(32)), None).unwrap();
        assert!(other.open(&sealed, b"tenant-a").is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(s.open(&tampered, b"tenant-a").is_err());
        assert!(Sealer::new(Some("abc"), None).is_err());
    }

    #[test]
    fn the_development_key_lasts_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let sealed = Sealer::new(None, Some(dir.path()))
            .unwrap()
            .seal(b"x", b"o");
        let again = Sealer::new(None, Some(dir.path())).unwrap();
        assert!(again.can_seal());
        assert_eq!(again.open(&sealed, b"o").unwrap(), b"x");
        assert!(!Sealer::new(None, None).unwrap().can_seal());
    }
}
