//! [`TokenCodec`]: the bytes shared stores (PostgreSQL, Redis, an application's own database)
//! keep for a [`TokenSet`] — JSON, or sealed with AES-256-GCM under an application key
//! ([`SealingKeys`], feature `sealing`). Written once here so that every engine stores the same
//! format and makes the same checks.

use std::fmt;
#[cfg(feature = "sealing")]
use std::sync::Arc;

use crate::token::TokenSet;

use super::key::StoreKey;
use crate::error::StoreError;

/// The first byte of a value sealed by grantkit 0.1 (a JSON token set starts with `{`): its
/// additional authenticated data is this byte, the key id and the canonical key. Still opened
/// (for the same key only), never written.
const SEALED_V1: u8 = 1;
/// The first byte of a sealed value: its additional authenticated data is `AAD_V2`, the key
/// id and the canonical key.
const SEALED_V2: u8 = 2;
/// The namespace and format version in front of the additional authenticated data of format 2,
/// so that a value sealed by another use of the same key (or another format) never opens as
/// tokens.
#[cfg(feature = "sealing")]
const AAD_V2: &[u8] = b"grantkit/tokens/v2\0";
/// Format byte, key id, 96-bit nonce.
#[cfg(feature = "sealing")]
const HEADER: usize = 2 + 12;

/// The bytes a shared store keeps for a [`TokenSet`]: its JSON (the `TokenSet` serde format,
/// the same as the file store's), or — with `SealingKeys` (feature `sealing`) — that JSON sealed with
/// AES-256-GCM.
///
/// Sealed layout: `0x02` (format version) · key id (1 byte) · nonce (12 random bytes) ·
/// ciphertext and 16-byte tag. The additional authenticated data is a namespace and version
/// (`grantkit/tokens/v2` and a NUL byte), the key id and [`StoreKey::canonical`], so a value
/// copied to another user's row does not open either. Values sealed by grantkit 0.1 (format
/// `0x01`, without the namespace) still open for the key they were sealed for, and are sealed
/// again in format 2 at their next save.
///
/// A codec with keys refuses values stored in clear (unless
/// `SealingKeys::accept_plaintext`), and a codec without keys refuses sealed values: both
/// with [`StoreError::Unseal`], never with garbage.
#[derive(Clone, Default)]
pub struct TokenCodec {
    #[cfg(feature = "sealing")]
    keys: Option<Arc<SealingKeys>>,
}

impl fmt::Debug for TokenCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCodec")
            .field("key_id", &self.key_id())
            .finish()
    }
}

impl TokenCodec {
    /// Tokens at rest as JSON, in clear: protect the storage.
    pub fn plain() -> Self {
        Self::default()
    }

    /// Tokens at rest sealed with AES-256-GCM under `keys`.
    #[cfg(feature = "sealing")]
    pub fn sealed(keys: SealingKeys) -> Self {
        Self {
            keys: Some(Arc::new(keys)),
        }
    }

    /// The id of the key new values are sealed with; `None` when values are stored in clear.
    pub fn key_id(&self) -> Option<u8> {
        #[cfg(feature = "sealing")]
        return self.keys.as_ref().map(|k| k.current.0);
        #[cfg(not(feature = "sealing"))]
        return None;
    }

    /// The bytes to store for `tokens` under `key`.
    pub fn encode(&self, key: &StoreKey, tokens: &TokenSet) -> Result<Vec<u8>, StoreError> {
        let json = serde_json::to_vec(tokens).map_err(|e| StoreError::Io {
            store: key.to_string(),
            operation: "serialize the token set",
            message: e.to_string(),
        })?;
        #[cfg(feature = "sealing")]
        if let Some(keys) = &self.keys {
            return keys.seal(key, &json);
        }
        let _ = key;
        Ok(json)
    }

    /// The token set stored as `bytes` under `key`. `store` names the store in errors.
    pub fn decode(
        &self,
        key: &StoreKey,
        bytes: &[u8],
        store: &str,
    ) -> Result<TokenSet, StoreError> {
        let unseal = |reason: String| StoreError::Unseal {
            store: store.to_owned(),
            reason,
        };
        let json: std::borrow::Cow<'_, [u8]> = match bytes.first() {
            Some(&(SEALED_V1 | SEALED_V2)) => {
                #[cfg(feature = "sealing")]
                match &self.keys {
                    Some(keys) => keys.open(key, bytes).map_err(unseal)?.into(),
                    None => return Err(unseal(
                        "the tokens are encrypted but this store has no key; configure the sealing keys".into(),
                    )),
                }
                #[cfg(not(feature = "sealing"))]
                return Err(unseal(
                    "the tokens are encrypted; enable grantkit's `sealing` feature and configure the keys".into(),
                ));
            }
            Some(b'{') => {
                #[cfg(feature = "sealing")]
                if self.keys.as_ref().is_some_and(|k| !k.accept_plaintext) {
                    return Err(unseal(
                        "the tokens are stored in clear but this store requires them encrypted (see SealingKeys::accept_plaintext to migrate)".into(),
                    ));
                }
                bytes.into()
            }
            _ => {
                return Err(StoreError::Corrupt {
                    store: store.to_owned(),
                    reason: "neither a JSON token set nor a sealed one".into(),
                })
            }
        };
        let _ = key;
        serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt {
            store: store.to_owned(),
            // Position only: the message of a serde error may quote the input.
            reason: format!(
                "invalid token set JSON at line {} column {}",
                e.line(),
                e.column()
            ),
        })
    }
}

#[cfg(feature = "sealing")]
pub use sealing::SealingKeys;

#[cfg(feature = "sealing")]
mod sealing {
    use aes_gcm::aead::{Aead, Generate, KeyInit, Nonce, Payload};
    use aes_gcm::Aes256Gcm;
    use std::fmt;

    use super::{StoreError, StoreKey, AAD_V2, HEADER, SEALED_V1, SEALED_V2};

    /// Application keys for sealing tokens at rest with AES-256-GCM (feature `sealing`): one
    /// current key that seals new values, and previous keys that still open old ones, each with
    /// a one-byte id stored in front of every value so keys can rotate.
    ///
    /// Keep the key outside the database it protects (an environment variable, a secret
    /// manager). 32 random bytes: `openssl rand -base64 32`. Nonces are random (96 bits), which
    /// is safe for up to about 2³² seals per key: rotate well before that.
    ///
    /// ```
    /// use grantkit::TokenSet;
    /// use grantkit::store::{SealingKeys, StoreKey, TokenCodec};
    /// let codec = TokenCodec::sealed(SealingKeys::new(1, [7u8; 32]));
    /// let key = StoreKey::new("polar", "client", "user-1");
    /// let bytes = codec.encode(&key, &TokenSet::from_access_token("at"))?;
    /// assert_eq!(codec.decode(&key, &bytes, "test")?.access_token().expose(), "at");
    ///
    /// let wrong = TokenCodec::sealed(SealingKeys::new(1, [8u8; 32]));
    /// assert!(wrong.decode(&key, &bytes, "test").is_err()); // a typed error, never garbage
    /// # Ok::<(), grantkit::store::StoreError>(())
    /// ```
    #[derive(Clone)]
    pub struct SealingKeys {
        pub(super) current: (u8, Aes256Gcm),
        previous: Vec<(u8, Aes256Gcm)>,
        pub(super) accept_plaintext: bool,
    }

    impl fmt::Debug for SealingKeys {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SealingKeys")
                .field("current_key_id", &self.current.0)
                .field(
                    "previous_key_ids",
                    &self.previous.iter().map(|k| k.0).collect::<Vec<_>>(),
                )
                .field("accept_plaintext", &self.accept_plaintext)
                .finish_non_exhaustive()
        }
    }

    impl SealingKeys {
        /// Seals new values with this 256-bit key, recorded as `key_id`.
        pub fn new(key_id: u8, key: [u8; 32]) -> Self {
            Self {
                current: (key_id, cipher(key)),
                previous: Vec::new(),
                accept_plaintext: false,
            }
        }

        /// [`SealingKeys::new`] with the key in standard base64 (44 characters), as kept in an
        /// environment variable.
        pub fn from_base64(key_id: u8, key: &str) -> crate::Result<Self> {
            Ok(Self::new(key_id, decode_key(key)?))
        }

        /// Also opens values sealed with an older key (key rotation: values are re-sealed
        /// with the current key at their next save, i.e. the next refresh).
        pub fn with_previous_key(mut self, key_id: u8, key: [u8; 32]) -> Self {
            self.previous.push((key_id, cipher(key)));
            self
        }

        /// Also reads values stored in clear (default: refused with [`StoreError::Unseal`]),
        /// to turn encryption on for a store that has plaintext rows: they are sealed at their
        /// next save. Turn it off again afterwards, so that nobody with write access to the
        /// storage can plant tokens.
        pub fn accept_plaintext(mut self, accept: bool) -> Self {
            self.accept_plaintext = accept;
            self
        }

        fn aad(format: u8, key_id: u8, key: &StoreKey) -> Vec<u8> {
            let canonical = key.canonical();
            let mut aad = Vec::with_capacity(AAD_V2.len() + 2 + canonical.len());
            if format == SEALED_V1 {
                aad.push(SEALED_V1);
            } else {
                aad.extend_from_slice(AAD_V2);
            }
            aad.push(key_id);
            aad.extend_from_slice(canonical.as_bytes());
            aad
        }

        pub(super) fn seal(&self, key: &StoreKey, json: &[u8]) -> Result<Vec<u8>, StoreError> {
            self.seal_as(SEALED_V2, key, json)
        }

        fn seal_as(&self, format: u8, key: &StoreKey, json: &[u8]) -> Result<Vec<u8>, StoreError> {
            let (id, cipher) = &self.current;
            let nonce = Nonce::<Aes256Gcm>::try_generate().map_err(|_| StoreError::Unseal {
                store: key.to_string(),
                reason: "the system's random number generator failed".into(),
            })?;
            let aad = Self::aad(format, *id, key);
            let sealed = cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: json,
                        aad: &aad,
                    },
                )
                .map_err(|_| StoreError::Unseal {
                    store: key.to_string(),
                    reason: "encryption failed".into(),
                })?;
            let mut out = Vec::with_capacity(HEADER + sealed.len());
            out.push(format);
            out.push(*id);
            out.extend_from_slice(&nonce);
            out.extend_from_slice(&sealed);
            Ok(out)
        }

        #[cfg(test)]
        pub(super) fn seal_v1_for_tests(&self, key: &StoreKey, json: &[u8]) -> Vec<u8> {
            self.seal_as(SEALED_V1, key, json).unwrap()
        }

        pub(super) fn open(&self, key: &StoreKey, bytes: &[u8]) -> Result<Vec<u8>, String> {
            let truncated = || "the sealed value is truncated".to_owned();
            if bytes.len() < HEADER + 16 {
                return Err(truncated());
            }
            let (header, sealed) = bytes.split_at_checked(HEADER).ok_or_else(truncated)?;
            let [format, id, nonce @ ..] = header else {
                return Err(truncated());
            };
            let (format, id) = (*format, *id);
            let cipher = std::iter::once(&self.current)
                .chain(&self.previous)
                .find(|(k, _)| *k == id)
                .map(|(_, c)| c)
                .ok_or_else(|| {
                    format!(
                        "the tokens are sealed with key id {id}, which this store does not have"
                    )
                })?;
            let aad = Self::aad(format, id, key);
            let nonce = <&Nonce<Aes256Gcm>>::try_from(nonce).map_err(|_| truncated())?;
            cipher
                .decrypt(
                    nonce,
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| {
                    format!("the tokens do not open with key id {id}: wrong key, data altered, or sealed for another user")
                })
        }
    }

    fn decode_key(key: &str) -> crate::Result<[u8; 32]> {
        use base64::Engine;
        // Wiped on drop; `try_into` on the vector itself would free it with the key inside.
        let bytes = zeroize::Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(key.trim())
                .map_err(|_| crate::Error::Config("the sealing key is not valid base64".into()))?,
        );
        <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
            crate::Error::Config("the sealing key must be 32 bytes (44 base64 characters)".into())
        })
    }

    /// The cipher for `key`; this copy of the key is wiped once the cipher has it (the
    /// caller's own copy is the caller's to wipe).
    fn cipher(mut key: [u8; 32]) -> Aes256Gcm {
        use zeroize::Zeroize;
        let cipher = Aes256Gcm::new(&key.into());
        key.zeroize();
        cipher
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> StoreKey {
        StoreKey::new("polar", "client", "user-1")
    }

    #[test]
    fn plain_round_trip_and_garbage_is_corrupt() {
        let codec = TokenCodec::plain();
        let bytes = codec
            .encode(&key(), &TokenSet::from_access_token("at"))
            .unwrap();
        assert_eq!(bytes[0], b'{');
        let back = codec.decode(&key(), &bytes, "s").unwrap();
        assert_eq!(back.access_token().expose(), "at");
        let e = codec.decode(&key(), b"nonsense", "s").unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
        let e = codec.decode(&key(), b"{\"secret-ish", "s").unwrap_err();
        assert!(!e.to_string().contains("secret-ish"), "{e}");
    }

    #[cfg(feature = "sealing")]
    #[test]
    fn sealing_round_trips_rotates_and_refuses_wrong_keys() {
        let tokens = TokenSet::from_access_token("at-sealed");
        let v1 = TokenCodec::sealed(SealingKeys::new(1, [1; 32]));
        let bytes = v1.encode(&key(), &tokens).unwrap();
        assert_eq!(&bytes[..2], &[SEALED_V2, 1]);
        assert!(!bytes.windows(9).any(|w| w == b"at-sealed"), "sealed");
        assert_eq!(v1.decode(&key(), &bytes, "s").unwrap(), tokens);

        // Wrong key, unknown key id, another user's row, tampering, no key, plaintext.
        let unseal = |r: Result<TokenSet, StoreError>| match r {
            Err(StoreError::Unseal { reason, .. }) => reason,
            other => panic!("expected Unseal, got {other:?}"),
        };
        let wrong = TokenCodec::sealed(SealingKeys::new(1, [2; 32]));
        assert!(unseal(wrong.decode(&key(), &bytes, "s")).contains("wrong key"));
        let other_id = TokenCodec::sealed(SealingKeys::new(2, [1; 32]));
        assert!(unseal(other_id.decode(&key(), &bytes, "s")).contains("key id 1"));
        let other_user = StoreKey::new("polar", "client", "user-2");
        unseal(v1.decode(&other_user, &bytes, "s"));
        let mut tampered = bytes.clone();
        *tampered.last_mut().unwrap() ^= 1;
        unseal(v1.decode(&key(), &tampered, "s"));
        unseal(v1.decode(&key(), &bytes[..10], "s"));
        unseal(TokenCodec::plain().decode(&key(), &bytes, "s"));
        let plain = TokenCodec::plain().encode(&key(), &tokens).unwrap();
        unseal(v1.decode(&key(), &plain, "s"));

        // Rotation: key 2 seals, key 1 still opens; plaintext accepted only when asked.
        let v2 = TokenCodec::sealed(
            SealingKeys::new(2, [3; 32])
                .with_previous_key(1, [1; 32])
                .accept_plaintext(true),
        );
        assert_eq!(v2.decode(&key(), &bytes, "s").unwrap(), tokens);
        assert_eq!(v2.decode(&key(), &plain, "s").unwrap(), tokens);
        assert_eq!(v2.encode(&key(), &tokens).unwrap()[1], 2);
        assert_eq!(v2.key_id(), Some(2));
        assert!(!format!("{v2:?}").contains("3, 3"));
    }

    /// Item 14: the sealing key's inputs are wiped: the base64-decoded buffer and the copy
    /// handed to the constructor (in `cipher`), and the ciphers wipe their key schedules on
    /// drop (aes-gcm's `zeroize` feature turns on that of `aes`, `ghash` and `polyval`).
    #[cfg(feature = "sealing")]
    #[test]
    fn sealing_key_inputs_and_ciphers_are_wiped() {
        fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        assert_zeroize_on_drop::<aes_gcm::aes::Aes256>();
        assert_zeroize_on_drop::<aes_gcm::Aes256Gcm>();
        let k = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        let keys = SealingKeys::from_base64(1, k)
            .unwrap()
            .with_previous_key(0, [2u8; 32]);
        let codec = TokenCodec::sealed(keys);
        let bytes = codec
            .encode(&key(), &TokenSet::from_access_token("at"))
            .unwrap();
        assert_eq!(
            codec
                .decode(&key(), &bytes, "t")
                .unwrap()
                .access_token()
                .expose(),
            "at"
        );
    }

    #[cfg(feature = "sealing")]
    #[test]
    fn base64_keys() {
        let k = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        assert!(SealingKeys::from_base64(1, k).is_ok());
        assert!(SealingKeys::from_base64(1, "AQID").is_err());
        assert!(SealingKeys::from_base64(1, "!!").is_err());
    }

    #[cfg(feature = "sealing")]
    #[test]
    fn a_sealed_row_does_not_open_under_another_key_or_another_format() {
        let codec = TokenCodec::sealed(SealingKeys::new(1, [5; 32]));
        let tokens = TokenSet::from_access_token("at");
        let production = StoreKey::for_client(
            &crate::store::key::tests::client_at(
                "Polar.sh",
                Some("https://polar.sh"),
                "https://api.polar.sh/t",
            ),
            "user-1",
        );
        let sandbox = StoreKey::for_client(
            &crate::store::key::tests::client_at(
                "Polar.sh",
                Some("https://polar.sh"),
                "https://sandbox-api.polar.sh/t",
            ),
            "user-1",
        );
        let sealed = codec.encode(&production, &tokens).unwrap();
        assert_eq!(sealed[0], SEALED_V2, "new rows are format 2");
        assert_eq!(codec.decode(&production, &sealed, "s").unwrap(), tokens);
        assert!(matches!(
            codec.decode(&sandbox, &sealed, "s"),
            Err(StoreError::Unseal { .. })
        ));
        // Relabelled as format 1 (a downgrade to the old AAD): refused.
        let mut downgraded = sealed.clone();
        downgraded[0] = SEALED_V1;
        assert!(matches!(
            codec.decode(&production, &downgraded, "s"),
            Err(StoreError::Unseal { .. })
        ));
    }

    #[cfg(feature = "sealing")]
    #[test]
    fn rows_sealed_in_format_1_still_open_for_their_own_key_only() {
        let keys = SealingKeys::new(1, [6; 32]);
        let key = StoreKey::new("polar", "client", "user-1");
        let v1 = keys.seal_v1_for_tests(&key, br#"{"access_token":"at","token_type":"Bearer"}"#);
        let codec = TokenCodec::sealed(keys);
        assert_eq!(
            codec
                .decode(&key, &v1, "s")
                .unwrap()
                .access_token()
                .expose(),
            "at"
        );
        let other = StoreKey::new("polar", "client", "user-2");
        assert!(codec.decode(&other, &v1, "s").is_err());
    }
}
