//! [`StoreError`]: why a token store could not be used.

use std::path::PathBuf;

/// Why a token store could not be used. Reached through [`Error::Store`](crate::Error::Store).
///
/// Paths are not secret; token material never appears in these messages.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store holds no tokens (the file does not exist, the row is absent, or the tokens
    /// were deleted on logout): the user must authorize first.
    #[error("{store} holds no tokens; authorize the user first")]
    NoTokens {
        /// The store, as [`TokenStore::describe`](crate::store::TokenStore::describe) names it.
        store: String,
    },
    /// The token file exists but is empty. grantkit's own writes are atomic and never leave an
    /// empty file, so something else truncated it.
    #[error("the token file {} is empty (grantkit never writes an empty file); delete it and authorize again", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The stored data is not a token set.
    #[error(
        "{store} does not hold a readable token set ({reason}); delete it and authorize again"
    )]
    Corrupt {
        /// The store, as [`TokenStore::describe`](crate::store::TokenStore::describe) names it.
        store: String,
        /// What is wrong (position of a JSON error, never the content).
        reason: String,
    },
    /// The token file can be read or written by the group or by other users. grantkit refuses
    /// to use it, because those tokens may have leaked: fix the mode (and consider revoking).
    #[error("the file {} has mode {mode:03o}, so other users can read or change it; refusing to use it: run `chmod 600 {}` (and revoke the tokens if others may have read them)", path.display(), path.display())]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits (`0o644`...).
        mode: u32,
    },
    /// A file grantkit was to trust (the token file, its lock file, or a file read with
    /// [`read_private_file`](crate::store::read_private_file)) or its directory could have been
    /// planted or swapped by someone else: a symbolic link, not a regular file (a FIFO would
    /// hang the read), owned by another user, or in a directory that others can write to.
    /// `reason` says which, and what to do.
    #[error("refusing to use {}: {reason}", path.display())]
    UntrustedFile {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The store's lock stayed taken longer than the store's bound on waiting: another
    /// process or replica holds it (a refresh that takes long, or a holder that died and whose
    /// lease has not run out yet). Transient ([`Error::is_transient`](crate::Error::is_transient)):
    /// try again later.
    #[error("{store}: the refresh lock is still held by another process after {}: try again later", humantime(*waited))]
    LockTimeout {
        /// The store, as [`TokenStore::describe`](crate::store::TokenStore::describe) names it.
        store: String,
        /// How long this caller waited.
        waited: std::time::Duration,
    },
    /// Sealed tokens could not be opened (wrong or unknown key, data altered or copied from
    /// another user's row), or the tokens are stored in clear where a key is required. See
    /// [`TokenCodec`](crate::store::TokenCodec). Not a reason to re-authorize: fix the key
    /// configuration.
    #[error("{store}: could not read the stored tokens: {reason}")]
    Unseal {
        /// The store, as [`TokenStore::describe`](crate::store::TokenStore::describe) names it.
        store: String,
        /// What is wrong (never key or token material).
        reason: String,
    },
    /// An I/O failure (disk full, permission denied, connection lost...).
    #[error("{store}: could not {operation}: {message}")]
    Io {
        /// The store, as [`TokenStore::describe`](crate::store::TokenStore::describe) names it.
        store: String,
        /// What was being done (`read`, `rename the temporary file`, `lock`...).
        operation: &'static str,
        /// What the system said.
        message: String,
    },
}

impl StoreError {
    /// `true` when the store simply holds no tokens: send the user through authorization.
    pub fn is_reauthorization_required(&self) -> bool {
        matches!(self, StoreError::NoTokens { .. })
    }

    /// `true` when waiting and trying again should succeed: the lock was busy for too long.
    /// ([`StoreError::Io`] is not counted: it mixes passing failures with lasting ones.)
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::LockTimeout { .. })
    }
}

fn humantime(d: std::time::Duration) -> String {
    if d.as_secs() >= 1 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}
