//! Token lifecycle: a [`TokenSource`] that always hands out a valid access token, refreshes once
//! however many tasks ask at the same time, and persists a rotated refresh token before anyone
//! uses the new pair; the [`TokenStore`]s it persists to; and an [`AuthorizedClient`] that sends
//! requests with the token and retries once after an `invalid_token` answer.
//!
//! The guarantees and the refresh protocol are described in `docs/token-lifecycle.md`.
//!
//! | file | concept |
//! |---|---|
//! | `source.rs` | [`TokenSource`], [`AccessToken`]: single-flight refresh, the refresh protocol |
//! | `store.rs` | [`TokenStore`] (the contract for every store), [`StoreLock`], [`StoreError`], [`MemoryTokenStore`] |
//! | `file_store.rs` | [`FileTokenStore`]: JSON, 0600, atomic replace, advisory lock |
//! | `keyed.rs` | [`StoreKey`] (provider, client, subject) and [`TokenCodec`] (JSON or AES-GCM sealed bytes at rest) for shared stores |
//! | `authorized.rs` | [`AuthorizedClient`]: `Authorization` header, one refresh-and-retry on `invalid_token` |

mod authorized;
mod file_store;
mod keyed;
mod source;
mod store;

pub use authorized::{AuthorizedClient, AuthorizedRequestBuilder};
pub use file_store::{read_private_file, FileTokenStore};
#[cfg(feature = "sealing")]
pub use keyed::SealingKeys;
pub use keyed::{StoreKey, TokenCodec};
pub use source::{AccessToken, TokenSource, TokenSourceBuilder};
pub use store::{BoxFuture, MemoryTokenStore, StoreError, StoreLock, TokenStore};
