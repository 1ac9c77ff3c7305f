//! Where tokens live between requests and across processes: the [`TokenStore`] contract every
//! store implements, and the stores grantkit ships. A [`TokenSource`](crate::TokenSource)
//! persists to one, and refreshes under its [`StoreLock`] so that a rotated refresh token is
//! saved before anyone uses the new pair.
//!
//! | file | concept |
//! |---|---|
//! | `contract.rs` | [`TokenStore`] (the contract for every store), [`StoreLock`], [`StoreError`], [`BoxFuture`] |
//! | `memory.rs` | [`MemoryTokenStore`]: the reference implementation, in memory |
//! | `file.rs` | [`FileTokenStore`]: JSON, 0600, atomic replace, advisory lock; [`read_private_file`] |
//! | `key.rs` | [`StoreKey`]: which user's tokens a shared store (PostgreSQL, Redis…) holds |
//! | `replay.rs` | [`ReplayGuard`]: one-time ids (a logout token's `jti`) remembered until they expire; [`MemoryReplayGuard`] |
//! | `codec.rs` | [`TokenCodec`]: the bytes at rest, JSON or sealed with AES-256-GCM (`SealingKeys`, feature `sealing`) |
//!
//! The guarantees and the refresh protocol are described in `docs/token-lifecycle.md`; the
//! contract's test suite is in `grantkit-testkit`, for third-party stores to run too.

mod codec;
mod contract;
mod file;
mod key;
mod memory;
mod replay;

pub use crate::error::StoreError;
#[cfg(feature = "sealing")]
pub use codec::SealingKeys;
pub use codec::TokenCodec;
pub use contract::{BoxFuture, StoreLock, TokenStore};
pub use file::{read_private_file, FileTokenStore};
pub use key::StoreKey;
pub use memory::MemoryTokenStore;
pub use replay::{MemoryReplayGuard, ReplayGuard};
