//! grantkit-testkit's `SessionStore` contract on the memory store (the PostgreSQL and Redis
//! stores run the same proofs in their crates).

use grantkit_axum::MemorySessionStore;
use grantkit_testkit::session_contract::session_store_contract;

#[tokio::test]
async fn memory_session_store_keeps_the_session_store_contract() {
    session_store_contract(&MemorySessionStore::new()).await;
}
