//! The [`SessionStore`] contract of `grantkit-axum` as tests (feature `axum-sessions`): what
//! every session store promises the login layer, proven the same way for the memory,
//! PostgreSQL and Redis stores and for a store of your own.
//!
//! ```no_run
//! # // A doctest cannot hold `#[tokio::test]`s; this is the shape of a test of your crate.
//! use grantkit_axum::MemorySessionStore;
//! use grantkit_testkit::session_contract;
//!
//! #[tokio::test]
//! async fn memory_sessions_keep_the_contract() {
//!     session_contract::session_store_contract(&MemorySessionStore::new()).await;
//! }
//! # fn main() {}
//! ```
//!
//! Every name the contract saves (keys, subjects, `sid`s) is made unique per run, so stores on
//! a shared server need no cleaning between runs.
//!
//! # Panics
//!
//! The proofs are tests: a broken promise panics with a message that names it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use grantkit::{CallbackError, Client, Error, Provider};
use grantkit_axum::{Session, SessionIndex, SessionStore, User};

use crate::store_contract::unique_subject;

/// A signed-in session of `subject` in the provider session `sid` (no claims).
pub fn signed_in(subject: &str, sid: &str) -> Session {
    Session {
        user: Some(Arc::new(User {
            subject: subject.into(),
            sid: Some(sid.into()),
            claims: Default::default(),
            login_id: String::new(),
        })),
        ..Session::default()
    }
}

/// Runs every proof below on `store`.
pub async fn session_store_contract(store: &dyn SessionStore) {
    sessions_round_trip(store).await;
    sessions_are_indexed_by_sid_and_subject(store).await;
    a_saved_session_moves_its_index_entries(store).await;
    a_deleted_session_is_gone_from_its_index(store).await;
    an_expired_session_is_gone_from_load_and_find(store).await;
    a_login_in_progress_round_trips_and_still_checks_its_callback(store).await;
    a_logout_in_progress_round_trips_and_still_checks_its_return(store).await;
}

/// Unique names for one proof: `(key, subject, sid)` makers.
struct Names(String);

impl Names {
    fn new(proof: &str) -> Self {
        Self(unique_subject(proof))
    }
    fn of(&self, what: &str) -> String {
        format!("{}:{what}", self.0)
    }
}

fn later() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

/// A saved session loads back as saved; an unknown key loads as `None`.
pub async fn sessions_round_trip(store: &dyn SessionStore) {
    let n = Names::new("round_trip");
    let mut session = signed_in(&n.of("alice"), &n.of("s1"));
    session.created_at = 1_700_000_000;
    session.last_seen = 1_700_000_100;
    session.return_to = Some("/orders?page=2".into());
    if let Some(user) = session.user.as_mut().map(Arc::make_mut) {
        user.claims
            .insert("email".into(), "alice@example.com".into());
        user.login_id = "login-1".into();
    }
    store.save(&n.of("a"), &session, later()).await.unwrap();
    let loaded = store
        .load(&n.of("a"))
        .await
        .unwrap()
        .expect("the saved session");
    assert_eq!(
        loaded.created_at, session.created_at,
        "created_at round trip"
    );
    assert_eq!(loaded.last_seen, session.last_seen, "last_seen round trip");
    assert_eq!(loaded.return_to, session.return_to, "return_to round trip");
    assert_eq!(loaded.user, session.user, "the user round trip");
    assert!(
        store.load(&n.of("unknown")).await.unwrap().is_none(),
        "an unknown key loads as None"
    );
}

/// `find` answers the live sessions of a `sid` and of a subject.
pub async fn sessions_are_indexed_by_sid_and_subject(store: &dyn SessionStore) {
    let n = Names::new("indexed");
    let (alice, s1, s2) = (n.of("alice"), n.of("s1"), n.of("s2"));
    store
        .save(&n.of("a"), &signed_in(&alice, &s1), later())
        .await
        .unwrap();
    store
        .save(&n.of("b"), &signed_in(&alice, &s2), later())
        .await
        .unwrap();
    let by_sid = store.find(&SessionIndex::Sid(s1)).await.unwrap();
    assert_eq!(by_sid, vec![n.of("a")], "find by sid");
    let mut by_subject = store.find(&SessionIndex::Subject(alice)).await.unwrap();
    by_subject.sort();
    assert_eq!(by_subject, vec![n.of("a"), n.of("b")], "find by subject");
}

/// Saved again under another `sid`, a session is no longer found under the old one.
pub async fn a_saved_session_moves_its_index_entries(store: &dyn SessionStore) {
    let n = Names::new("moves");
    let (alice, s1, s3) = (n.of("alice"), n.of("s1"), n.of("s3"));
    store
        .save(&n.of("a"), &signed_in(&alice, &s1), later())
        .await
        .unwrap();
    store
        .save(&n.of("a"), &signed_in(&alice, &s3), later())
        .await
        .unwrap();
    assert!(
        store.find(&SessionIndex::Sid(s1)).await.unwrap().is_empty(),
        "the old sid still finds the session"
    );
    assert_eq!(
        store.find(&SessionIndex::Sid(s3)).await.unwrap(),
        vec![n.of("a")],
        "the new sid finds it"
    );
    let loaded = store.load(&n.of("a")).await.unwrap().unwrap();
    let sid = loaded.user.and_then(|u| u.sid.clone());
    assert_eq!(sid, Some(n.of("s3")), "the replacement is loaded");
}

/// A deleted session neither loads nor is found; deleting nothing is `Ok`.
pub async fn a_deleted_session_is_gone_from_its_index(store: &dyn SessionStore) {
    let n = Names::new("deleted");
    let (alice, s1) = (n.of("alice"), n.of("s1"));
    store
        .save(&n.of("a"), &signed_in(&alice, &s1), later())
        .await
        .unwrap();
    store.delete(&n.of("a")).await.unwrap();
    assert!(
        store.load(&n.of("a")).await.unwrap().is_none(),
        "load after delete"
    );
    assert!(
        store.find(&SessionIndex::Sid(s1)).await.unwrap().is_empty(),
        "find by sid after delete"
    );
    assert!(
        store
            .find(&SessionIndex::Subject(alice))
            .await
            .unwrap()
            .is_empty(),
        "find by subject after delete"
    );
    store.delete(&n.of("never-saved")).await.unwrap();
}

/// Past its expiry a session neither loads nor is found, whether it expired while stored
/// or was saved already expired.
pub async fn an_expired_session_is_gone_from_load_and_find(store: &dyn SessionStore) {
    let n = Names::new("expired");
    let (bob, s9, s8) = (n.of("bob"), n.of("s9"), n.of("s8"));
    let past = SystemTime::now() - Duration::from_secs(1);
    store
        .save(&n.of("past"), &signed_in(&bob, &s8), past)
        .await
        .unwrap();
    let soon = SystemTime::now() + Duration::from_millis(300);
    store
        .save(&n.of("soon"), &signed_in(&bob, &s9), soon)
        .await
        .unwrap();
    assert!(
        store.load(&n.of("soon")).await.unwrap().is_some(),
        "live before its expiry"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for key in ["past", "soon"] {
        assert!(
            store.load(&n.of(key)).await.unwrap().is_none(),
            "the expired session {key} loads"
        );
    }
    for index in [
        SessionIndex::Sid(s9),
        SessionIndex::Sid(s8),
        SessionIndex::Subject(bob),
    ] {
        assert!(
            store.find(&index).await.unwrap().is_empty(),
            "an expired session is found under {index:?}"
        );
    }
}

/// The app's redirect URI in the login proofs.
const CALLBACK: &str = "https://app.example/callback";
/// The app's post-logout redirect URI in the logout proof.
const LOGGED_OUT: &str = "https://app.example/logged-out";

/// A client of a provider that is never called: the proofs only build requests and check
/// the browser's returns.
fn offline_client() -> Client {
    let provider = Provider::builder("session-contract")
        .authorization_endpoint("https://op.example/authorize")
        .token_endpoint("https://op.example/token")
        .end_session_endpoint("https://op.example/session/end")
        .build()
        .expect("a provider of https endpoints");
    Client::builder(provider, "session-contract-client")
        .redirect_uri(CALLBACK)
        .build()
        .expect("a client of that provider")
}

/// The `state` parameter of a URL grantkit built.
fn state_of(url: &url::Url) -> String {
    url.query_pairs()
        .find(|(name, _)| name == "state")
        .map(|(_, value)| value.into_owned())
        .expect("the URL carries a state")
}

/// A session in the middle of a login — a real `PendingAuthorization` with its PKCE
/// verifier, `nonce`, `state`, a resource indicator (RFC 8707) and `max_age` — loads back
/// equal, and the loaded one still accepts the provider's callback with its `state` and
/// refuses one with another: a store that dropped or mangled a field would make every login
/// fail at the callback, or (a lost `nonce` or `max_age`) pass without its check.
pub async fn a_login_in_progress_round_trips_and_still_checks_its_callback(
    store: &dyn SessionStore,
) {
    let n = Names::new("pending_login");
    let client = offline_client();
    let (url, pending) = client
        .authorize()
        .scopes(["openid", "email"])
        .max_age(Duration::from_secs(300))
        .resource("https://orders.example/")
        .build()
        .expect("an authorization request");
    assert!(
        url.as_str().contains("code_challenge_method=S256"),
        "PKCE sent"
    );
    assert!(pending.nonce().is_some(), "a nonce sent");
    let session = Session {
        pending_login: Some(Box::new(pending.clone())),
        return_to: Some("/orders".into()),
        ..Session::default()
    };
    store.save(&n.of("a"), &session, later()).await.unwrap();
    let loaded = store.load(&n.of("a")).await.unwrap().expect("the session");
    let loaded = loaded
        .pending_login
        .expect("the login in progress round trip");
    assert_eq!(
        *loaded, pending,
        "every field of the pending login round trip"
    );
    assert_eq!(loaded.max_age(), Some(300), "max_age round trip");
    assert_eq!(
        loaded.resources(),
        ["https://orders.example/"],
        "resource round trip"
    );
    let state = state_of(&url);
    let callback = format!("{CALLBACK}?code=the-code&state={state}");
    let code = loaded.verify_callback(&callback);
    assert!(code.is_ok(), "the callback with its state: {code:?}");
    let forged = format!("{CALLBACK}?code=the-code&state=not-{state}");
    let refused = loaded.verify_callback(&forged).unwrap_err();
    assert!(
        matches!(refused, Error::Callback(CallbackError::StateMismatch)),
        "a callback with another state: {refused}"
    );
}

/// A session in the middle of an RP-initiated logout loads back with its `PendingLogout`,
/// which still accepts the provider's return with its `state` and refuses another.
pub async fn a_logout_in_progress_round_trips_and_still_checks_its_return(
    store: &dyn SessionStore,
) {
    let n = Names::new("pending_logout");
    let client = offline_client();
    let (url, pending) = client
        .logout()
        .post_logout_redirect_uri(LOGGED_OUT)
        .build()
        .expect("a logout request");
    let mut session = signed_in(&n.of("alice"), &n.of("s1"));
    session.pending_logout = Some(Box::new(pending));
    store.save(&n.of("a"), &session, later()).await.unwrap();
    let loaded = store.load(&n.of("a")).await.unwrap().expect("the session");
    let loaded = loaded
        .pending_logout
        .expect("the logout in progress round trip");
    assert_eq!(loaded.post_logout_redirect_uri(), Some(LOGGED_OUT));
    let state = state_of(&url);
    let back = format!("{LOGGED_OUT}?state={state}");
    assert!(
        loaded.verify_return(&back).is_ok(),
        "the return with its state"
    );
    let forged = format!("{LOGGED_OUT}?state=not-{state}");
    let refused = loaded.verify_return(&forged).unwrap_err();
    assert!(
        matches!(refused, Error::Callback(CallbackError::StateMismatch)),
        "a return with another state: {refused}"
    );
}
