//! The member-id: your identifier for a user at AccessLink.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Your identifier for a user, sent at registration (`{"member-id": ...}`).
///
/// **It must be unique per user.** AccessLink answers 409 to a registration whose member-id is
/// already taken, so a constant member-id makes every user after the first fail to register —
/// and [`AccessLink::register`](crate::AccessLink::register) reports 409 as
/// [`AlreadyRegistered`](crate::Registration::AlreadyRegistered), which hides it. Use your own
/// stable user key ([`MemberId::new`]) or a random one ([`MemberId::generate`]) stored with the
/// user; [`AccessLink::ensure_registered`](crate::AccessLink::ensure_registered) tells the two
/// 409s apart.
///
/// ```
/// use grantkit_polar_accesslink::MemberId;
///
/// let a = MemberId::generate();
/// let b = MemberId::generate();
/// assert_ne!(a, b);
/// assert!(a.as_str().starts_with("gk-"));
/// assert!(MemberId::new("").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemberId(String);

impl MemberId {
    /// A fresh random member-id: `gk-` and 32 hex digits (128 bits from the OS's generator).
    /// Store it with your user: the same user must get the same member-id next time.
    // Reads no input: only a broken operating system fails here, and no id is better than a
    // predictable one.
    #[allow(clippy::expect_used)]
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        getrandom::getrandom(&mut bytes).expect("the operating system's random generator");
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("gk-{hex}"))
    }

    /// Your own identifier for the user (a database key, say); refused when empty or when it
    /// holds control characters. It must differ for every user.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.trim().is_empty() {
            return Err(Error::InvalidMemberId("it is empty".into()));
        }
        if id.chars().any(char::is_control) {
            return Err(Error::InvalidMemberId(
                "it contains control characters".into(),
            ));
        }
        Ok(Self(id))
    }

    /// The member-id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
