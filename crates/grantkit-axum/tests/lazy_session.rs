//! The session is looked up by the first extractor that asks, once per request: routes that
//! never ask cost no store call and keep working while the store is down, and a store
//! failure is a `503`, never a login page. In process (`oneshot`), against a store that
//! counts its loads and can be made to fail.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::{middleware, Router};
use grantkit::store::BoxFuture;
use grantkit::{Client, Provider};
use grantkit_axum::{
    require_login, require_step_up, CurrentUser, Grantkit, LoginRequired, MemorySessionStore,
    Session, SessionError, SessionIndex, SessionStore, StepUp,
};
use grantkit_testkit::session_contract::signed_in;
use tower::ServiceExt;

/// The memory store, counting loads, failing every call while `down` is set.
#[derive(Clone, Default)]
struct Flaky {
    inner: MemorySessionStore,
    loads: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

impl Flaky {
    fn check(&self) -> Result<(), SessionError> {
        match self.down.load(Ordering::SeqCst) {
            true => Err(SessionError::Backend("connection refused".into())),
            false => Ok(()),
        }
    }
}

impl SessionStore for Flaky {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Session>, SessionError>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        match self.check() {
            Ok(()) => self.inner.load(key),
            Err(e) => Box::pin(async { Err(e) }),
        }
    }
    fn save<'a>(
        &'a self,
        key: &'a str,
        session: &'a Session,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        match self.check() {
            Ok(()) => self.inner.save(key, session, expires),
            Err(e) => Box::pin(async { Err(e) }),
        }
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        self.inner.delete(key)
    }
    fn find<'a>(
        &'a self,
        index: &'a SessionIndex,
    ) -> BoxFuture<'a, Result<Vec<String>, SessionError>> {
        self.inner.find(index)
    }
}

/// The cookie value of alice's session; its store key is the digest the layer computes.
const COOKIE: &str = "alice-session-id";

async fn app(store: &Flaky) -> Router {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut session = signed_in("alice", "s1");
    session.created_at = now;
    session.last_seen = now;
    // The store key is the base64url SHA-256 of the cookie value (cookie.rs).
    use base64::Engine;
    use sha2::Digest;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(COOKIE.as_bytes()));
    let later = SystemTime::now() + std::time::Duration::from_secs(3600);
    store.inner.save(&key, &session, later).await.unwrap();

    let provider = Provider::builder("t")
        .token_endpoint("http://127.0.0.1:9/token")
        .build()
        .unwrap();
    let client = Client::builder(provider, "c").build().unwrap();
    let gk = Grantkit::builder(client)
        .session_store(store.clone())
        .build()
        .unwrap();
    let private = Router::new()
        .route("/private", get(|| async { "private" }))
        .route_layer(middleware::from_fn(require_login));
    let fresh = Router::new()
        .route("/fresh", get(|| async { "fresh" }))
        .route_layer(middleware::from_fn_with_state(
            StepUp::new().max_age(std::time::Duration::from_secs(600)),
            require_step_up,
        ));
    gk.attach(
        Router::new()
            .route("/public", get(|| async { "public" }))
            .route(
                "/twice",
                get(
                    |CurrentUser(a): CurrentUser, CurrentUser(b): CurrentUser| async move {
                        format!("{} {}", a.subject, b.subject)
                    },
                ),
            )
            .route(
                "/home",
                get(|user: Result<CurrentUser, LoginRequired>| async move {
                    match user {
                        Ok(CurrentUser(user)) => format!("hello {}", user.subject),
                        Err(e) if e.is_store_failure() => "store down".to_owned(),
                        Err(_) => "log in".to_owned(),
                    }
                }),
            )
            .merge(private)
            .merge(fresh),
    )
}

/// A browser navigation to `path` with alice's cookie.
async fn navigate(app: &Router, path: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header(header::COOKIE, format!("__Host-grantkit={COOKIE}"))
        .header("sec-fetch-mode", "navigate")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn a_route_that_asks_for_no_user_never_calls_the_store() {
    let store = Flaky::default();
    let app = app(&store).await;
    assert_eq!(
        navigate(&app, "/public").await,
        (StatusCode::OK, "public".into())
    );
    assert_eq!(store.loads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn two_extractors_in_one_request_cost_one_store_lookup() {
    let store = Flaky::default();
    let app = app(&store).await;
    assert_eq!(
        navigate(&app, "/twice").await,
        (StatusCode::OK, "alice alice".into())
    );
    assert_eq!(store.loads.load(Ordering::SeqCst), 1);
    // require_login and the handler's extractor share it too.
    assert_eq!(navigate(&app, "/private").await.0, StatusCode::OK);
    assert_eq!(store.loads.load(Ordering::SeqCst), 2);
}

/// Before the lookup was lazy, a store outage made every route `503`, public pages too.
#[tokio::test]
async fn a_store_outage_leaves_public_routes_up() {
    let store = Flaky::default();
    let app = app(&store).await;
    store.down.store(true, Ordering::SeqCst);
    assert_eq!(
        navigate(&app, "/public").await,
        (StatusCode::OK, "public".into())
    );
}

/// A store outage is not "signed out": a navigation gets `503`, not a login page (which would
/// start a login the callback could not save), from the extractors, `require_login` and
/// `require_step_up` alike.
#[tokio::test]
async fn a_store_outage_is_a_503_never_a_login_redirect() {
    let store = Flaky::default();
    let app = app(&store).await;
    store.down.store(true, Ordering::SeqCst);
    for path in ["/twice", "/private", "/fresh"] {
        let (status, _) = navigate(&app, path).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
    }
    assert_eq!(
        navigate(&app, "/home").await,
        (StatusCode::OK, "store down".into()),
        "an optional user tells an outage from a signed-out visitor"
    );
    store.down.store(false, Ordering::SeqCst);
    assert_eq!(
        navigate(&app, "/home").await,
        (StatusCode::OK, "hello alice".into())
    );
}
