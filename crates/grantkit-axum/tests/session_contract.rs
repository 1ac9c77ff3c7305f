//! grantkit-testkit's `SessionStore` contract on the memory store (the PostgreSQL and Redis
//! stores run the same proofs in their crates).

use std::time::SystemTime;

use grantkit::store::BoxFuture;
use grantkit::PendingAuthorization;
use grantkit_axum::{MemorySessionStore, Session, SessionError, SessionIndex, SessionStore};
use grantkit_testkit::session_contract::{
    a_login_in_progress_round_trips_and_still_checks_its_callback, session_store_contract,
};

#[tokio::test]
async fn memory_session_store_keeps_the_session_store_contract() {
    session_store_contract(&MemorySessionStore::new()).await;
}

/// A store that keeps a login in progress in the shape grantkit 0.1 wrote: no `max_age`, no
/// resource indicators. Its logins would pass the callback without the `auth_time` check.
struct LosesLoginFields(MemorySessionStore);

fn without_0_2_fields(pending: &PendingAuthorization) -> Box<PendingAuthorization> {
    let mut value = serde_json::to_value(pending).unwrap();
    let fields = value.as_object_mut().unwrap();
    fields.remove("max_age");
    fields.remove("resources");
    Box::new(serde_json::from_value(value).unwrap())
}

impl SessionStore for LosesLoginFields {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Session>, SessionError>> {
        Box::pin(async move {
            let mut session = self.0.load(key).await?;
            if let Some(pending) = session.as_mut().and_then(|s| s.pending_login.as_mut()) {
                *pending = without_0_2_fields(pending);
            }
            Ok(session)
        })
    }
    fn save<'a>(
        &'a self,
        key: &'a str,
        session: &'a Session,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        self.0.save(key, session, expires)
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        self.0.delete(key)
    }
    fn find<'a>(
        &'a self,
        index: &'a SessionIndex,
    ) -> BoxFuture<'a, Result<Vec<String>, SessionError>> {
        self.0.find(index)
    }
}

/// The login-in-progress proof has teeth: a store that drops fields of the pending login
/// fails it.
#[tokio::test]
#[should_panic(expected = "every field of the pending login round trip")]
async fn a_store_that_loses_pending_login_fields_fails_the_contract() {
    let store = LosesLoginFields(MemorySessionStore::new());
    a_login_in_progress_round_trips_and_still_checks_its_callback(&store).await;
}
