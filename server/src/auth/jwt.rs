//! Access tokens: short-lived HS256 JWTs. The algorithm is pinned, `iss`, `aud`, `exp`, `nbf`
//! are checked, and every token names the key that signed it (`kid`) so keys can rotate:
//! the first configured key signs, all configured keys verify.

use std::{collections::HashMap, path::Path};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "devpulse";
pub const AUDIENCE: &str = "devpulse";
/// Access tokens live at most this long (the identity issue asks for ≤ 15 minutes).
pub const ACCESS_TTL_SECS: i64 = 15 * 60;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: Uuid,
    /// The tenant id; absent for super admins, who belong to no tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<Uuid>,
    pub role: String,
    pub jti: Uuid,
    pub iat: i64,
    /// When the login (or refresh) that produced this token happened, in milliseconds: compared
    /// with the user's `sessions_valid_after`, which seconds are too coarse for.
    pub auth_ms: i64,
    pub nbf: i64,
    pub exp: i64,
    /// A support access (`store::support`): the grant this token reads `tid` through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sup: Option<Uuid>,
}

#[derive(Clone)]
pub struct Keys {
    signing_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_struct("Keys")
            .field("signing_kid", &self.signing_kid)
            .field("kids", &self.decoding.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("DEVPULSE_JWT_KEYS: {0}")]
    Config(String),
    #[error("development JWT key {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl Keys {
    /// `kid:secret,kid:secret` (secrets of at least 32 bytes); the first one signs.
    pub fn from_spec(spec: &str) -> Result<Keys, KeyError> {
        let mut pairs = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (kid, secret) = item
                .split_once(':')
                .ok_or_else(|| KeyError::Config("each key is `kid:secret`".into()))?;
            // The deployment examples' placeholder is public: signing with it lets anyone
            // make sessions.
            if secret.to_ascii_uppercase().contains("CHANGE-ME") {
                return Err(KeyError::Config(format!(
                    "key {kid:?}: the secret is the example's placeholder; make a random one"
                )));
            }
            if kid.is_empty() || secret.len() < 32 {
                return Err(KeyError::Config(format!(
                    "key {kid:?}: kid must be set and the secret at least 32 characters"
                )));
            }
            pairs.push((kid.to_string(), secret.as_bytes().to_vec()));
        }
        let Some((signing_kid, signing)) = pairs.first().cloned() else {
            return Err(KeyError::Config("no keys given".into()));
        };
        Ok(Keys {
            signing_kid,
            encoding: EncodingKey::from_secret(&signing),
            decoding: pairs
                .into_iter()
                .map(|(kid, s)| (kid, DecodingKey::from_secret(&s)))
                .collect(),
        })
    }

    /// The development key: generated once into the data directory, reused after.
    pub fn dev_key(data_dir: &Path) -> Result<Keys, KeyError> {
        let path = data_dir.join("jwt-dev.key");
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        use std::{
            io::Write,
            os::unix::fs::{OpenOptionsExt, PermissionsExt},
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        // Created 0600 in the same call that creates it: a key written first and narrowed
        // after could be read by anyone in between.
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        let secret = match created {
            Ok(mut file) => {
                let s = store::secrets::random_token(32);
                file.write_all(s.as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // One written by an older version may be readable by others: narrow it.
                let mode = std::fs::metadata(&path).map_err(io)?.permissions().mode();
                if mode & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), "the development JWT key was readable by others; now 0600");
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                        .map_err(io)?;
                }
                std::fs::read_to_string(&path)
                    .map_err(io)?
                    .trim()
                    .to_string()
            }
            Err(e) => return Err(io(e)),
        };
        Keys::from_spec(&format!("dev:{secret}"))
    }

    /// A token for a session that was (re)authenticated at `authenticated_at`, by the
    /// database's clock (see `store::refresh_tokens::Issued`).
    pub fn issue(
        &self,
        sub: Uuid,
        tid: Option<Uuid>,
        role: &str,
        authenticated_at: DateTime<Utc>,
    ) -> (String, Claims) {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub,
            tid,
            role: role.into(),
            jti: Uuid::new_v4(),
            iat: now,
            auth_ms: authenticated_at.timestamp_millis(),
            nbf: now,
            exp: now + ACCESS_TTL_SECS,
            sup: None,
        };
        self.sign(claims)
    }

    /// A super admin's token for reading one workspace through the support grant `grant`,
    /// valid until the grant expires (it is checked against the grant on every request too).
    pub fn issue_support(
        &self,
        sub: Uuid,
        tenant: Uuid,
        grant: Uuid,
        expires_at: DateTime<Utc>,
    ) -> (String, Claims) {
        let now = Utc::now();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub,
            tid: Some(tenant),
            role: "super_admin".into(),
            jti: Uuid::new_v4(),
            iat: now.timestamp(),
            auth_ms: now.timestamp_millis(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
            sup: Some(grant),
        };
        self.sign(claims)
    }

    fn sign(&self, claims: Claims) -> (String, Claims) {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing_kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        (token, claims)
    }

    /// `None` for anything but a well-formed, unexpired HS256 token we signed.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::HS256 {
            return None;
        }
        let key = self.decoding.get(header.kid.as_deref()?)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Claims>(token, key, &validation)
            .ok()
            .map(|d| d.claims)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_development_key_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let first = Keys::dev_key(dir.path()).unwrap();
        let path = dir.path().join("jwt-dev.key");
        assert_eq!(mode(&path), 0o600);
        // The same key on the next start: sessions survive a restart.
        let (token, _) = first.issue(Uuid::new_v4(), None, "developer", Utc::now());
        assert!(Keys::dev_key(dir.path()).unwrap().verify(&token).is_some());

        // A key file an older version left readable by others is narrowed.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Keys::dev_key(dir.path()).unwrap();
        assert_eq!(mode(&path), 0o600);
    }
}
