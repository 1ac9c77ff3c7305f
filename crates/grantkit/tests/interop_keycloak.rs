//! Keycloak-only scenarios: what Keycloak 26.7.3 implements beyond the interop matrix's shared
//! scenarios (`interop_matrix.rs`), proven against its real endpoints and pages. RP-initiated
//! and back-channel logout (issue 18), standard token exchange and `max_age` / `acr` (issue 19).
//! The clients are in `crates/grantkit-testkit/keycloak/grantkit-realm.json`; each cites the
//! Keycloak class that reads its attributes. One Keycloak per test binary; without it the tests
//! are skipped, and under `CI=true` they fail. docs/interop.md has the table and deviations.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use grantkit::error::LogoutTokenError;
use grantkit::oidc::{Discovery, IdTokenError};
use grantkit::store::MemoryReplayGuard;
use grantkit::token_exchange::{ACCESS_TOKEN, ID_TOKEN, REFRESH_TOKEN};
use grantkit::{
    AuthMethod, AuthorizationRequest, Client, Error, OAuthErrorCode, TokenSet, TokenType,
};
use grantkit_testkit::{
    Browser, ClientRole, InteropOp, Keycloak, Landing, OpClient, KEYCLOAK_REDIRECT_URI,
};
use serde_json::json;
use tokio::sync::mpsc;

/// The `acr` values `stepup-client` maps to levels of authentication (its `acr.loa.map`
/// attribute, read by `AcrUtils.getAcrLoaMap` in Keycloak): a password login is level 1.
const PWD: &str = "urn:grantkit:acr:pwd";
const MFA: &str = "urn:grantkit:acr:mfa";

fn keycloak(test: &str) -> Option<&'static Keycloak> {
    static OP: OnceLock<Option<Keycloak>> = OnceLock::new();
    OP.get_or_init(|| Keycloak::start_or_skip(test)).as_ref()
}

/// A client of the realm: the Keycloak-only ones, `public-client` of the matrix, and
/// `plain-client` (a confidential client with Keycloak's defaults, so no token exchange).
async fn client(op: &Keycloak, id: &str) -> Client {
    let registered = match id {
        "public-client" => op.client(ClientRole::Public).unwrap(),
        "plain-client" => OpClient::new(
            id,
            Some("kc plain secret"),
            "client_secret_basic",
            KEYCLOAK_REDIRECT_URI,
        ),
        _ => op.realm_client(id).unwrap(),
    };
    let provider = Discovery::new(op.issuer()).fetch().await.unwrap();
    let mut builder = Client::builder(provider, &registered.id)
        .auth_method(AuthMethod::from_name(registered.auth_method).unwrap())
        .redirect_uri(&registered.redirect_uri)
        .scopes(["openid", "email"]);
    if let Some(secret) = &registered.secret {
        builder = builder.client_secret(secret.as_str());
    }
    builder.build().unwrap()
}

/// Where an authorization request ended in `browser`, and whether Keycloak asked for the
/// password on the way (a session it still trusts answers without a page).
struct Login {
    tokens: grantkit::Result<TokenSet>,
    asked_password: bool,
}

async fn login_in(
    op: &Keycloak,
    browser: &Browser,
    client: &Client,
    request: AuthorizationRequest<'_>,
) -> Login {
    let (url, pending) = request.build().unwrap();
    let redirect = client.redirect_uri().unwrap();
    let (callback, asked_password) = match browser.navigate(url.as_str(), redirect).await.unwrap() {
        Landing::Callback(callback) => (callback, false),
        Landing::Page(page) => {
            let form = page.form("kc-form-login").unwrap();
            let user = op.user();
            let fields = [
                ("username", user.username.as_str()),
                ("password", user.password.as_str()),
            ];
            match browser.submit(&form, &fields, redirect).await.unwrap() {
                Landing::Callback(callback) => (callback, true),
                Landing::Page(page) => panic!("after the login form: {}", page.excerpt()),
            }
        }
    };
    let code = pending.verify_callback(&callback).unwrap();
    Login {
        tokens: client.exchange_code(code).await,
        asked_password,
    }
}

async fn fresh_login(op: &Keycloak, browser: &Browser, client: &Client) -> TokenSet {
    let login = login_in(op, browser, client, client.authorize()).await;
    assert!(login.asked_password, "a new browser has no session");
    login.tokens.unwrap()
}

fn sid(tokens: &TokenSet) -> String {
    let claims = tokens.id_token_claims().unwrap();
    claims.claim("sid").unwrap().as_str().unwrap().to_owned()
}

mod rp_initiated_logout {
    use super::*;

    /// OpenID Connect RP-Initiated Logout 1.0 §2-3 at Keycloak: `logout-client` registers
    /// its post-logout redirect URI as the client attribute `post.logout.redirect.uris`
    /// (`OIDCAdvancedConfigWrapper.getPostLogoutRedirectUris`); with a valid `id_token_hint`
    /// Keycloak's `LogoutEndpoint` ends the session without asking and redirects with the
    /// request's `state`. Afterwards the same browser is asked for its password again, and the
    /// session's refresh token is dead.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_id_token_hint_the_state_returns_and_the_session_ends() {
        let Some(op) = keycloak("rp_initiated_logout::with_id_token_hint") else {
            return;
        };
        let client = client(op, "logout-client").await;
        let browser = Browser::new();
        let tokens = fresh_login(op, &browser, &client).await;
        let sso = login_in(op, &browser, &client, client.authorize()).await;
        assert!(!sso.asked_password, "before the logout the session holds");

        let (url, pending) = client
            .logout()
            .id_token_hint(&tokens)
            .post_logout_redirect_uri(Keycloak::POST_LOGOUT_REDIRECT_URI)
            .build()
            .unwrap();
        assert!(url
            .as_str()
            .starts_with(&format!("{}/protocol/openid-connect/logout?", op.issuer())));
        let sent: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        for name in [
            "id_token_hint",
            "post_logout_redirect_uri",
            "client_id",
            "state",
        ] {
            assert!(sent.iter().any(|s| s == name), "{name} in {url}");
        }
        let back = match browser
            .navigate(url.as_str(), Keycloak::POST_LOGOUT_REDIRECT_URI)
            .await
            .unwrap()
        {
            Landing::Callback(back) => back,
            Landing::Page(page) => panic!("Keycloak asked: {}", page.excerpt()),
        };
        pending.verify_return(&back).unwrap();
        let forged = format!("{}?state=not-ours", Keycloak::POST_LOGOUT_REDIRECT_URI);
        assert!(pending.verify_return(&forged).is_err());

        let again = login_in(op, &browser, &client, client.authorize()).await;
        assert!(again.asked_password, "the Keycloak session ended");
        again.tokens.unwrap();
        let refresh = client.refresh(&tokens).await.unwrap_err();
        assert_eq!(
            refresh.oauth_code(),
            Some(&OAuthErrorCode::InvalidGrant),
            "{refresh:?}"
        );
    }

    /// Without `id_token_hint` Keycloak cannot tell that the request comes from the session's
    /// user, so its `LogoutEndpoint` shows a confirmation page ("Do you want to log out?",
    /// a form posting `session_code` and `confirmLogout`) before redirecting, as §2 allows.
    /// The user confirms; the return's `state` still checks and the session ends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_id_token_hint_keycloak_asks_the_user_to_confirm() {
        let Some(op) = keycloak("rp_initiated_logout::without_id_token_hint") else {
            return;
        };
        let client = client(op, "logout-client").await;
        let browser = Browser::new();
        fresh_login(op, &browser, &client).await;
        let (url, pending) = client
            .logout()
            .post_logout_redirect_uri(Keycloak::POST_LOGOUT_REDIRECT_URI)
            .build()
            .unwrap();
        assert!(!url.query_pairs().any(|(k, _)| k == "id_token_hint"));
        let redirect = Keycloak::POST_LOGOUT_REDIRECT_URI;
        let page = match browser.navigate(url.as_str(), redirect).await.unwrap() {
            Landing::Page(page) => page,
            Landing::Callback(back) => panic!("no confirmation page: {back}"),
        };
        let back = match op.confirm_logout(&browser, &page, redirect).await.unwrap() {
            Landing::Callback(back) => back,
            Landing::Page(page) => panic!("after confirming: {}", page.excerpt()),
        };
        pending.verify_return(&back).unwrap();
        let again = login_in(op, &browser, &client, client.authorize()).await;
        assert!(again.asked_password, "the Keycloak session ended");
    }
}

mod backchannel_logout {
    use super::*;

    /// What Keycloak POSTed to the receiver: the `Content-Type` and the `logout_token`.
    type Delivery = (String, String);

    /// A back-channel logout URI on loopback that hands each delivery to the test.
    async fn receiver() -> (String, mpsc::UnboundedReceiver<Delivery>) {
        let (tx, rx) = mpsc::unbounded_channel::<Delivery>();
        let app = Router::new()
            .route(
                "/backchannel-logout",
                post(
                    |State(tx): State<mpsc::UnboundedSender<Delivery>>,
                     headers: HeaderMap,
                     body: String| async move {
                        let kind = headers
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let token = url::form_urlencoded::parse(body.as_bytes())
                            .find(|(k, _)| k == "logout_token")
                            .map(|(_, v)| v.into_owned())
                            .unwrap_or_default();
                        let _ = tx.send((kind, token));
                    },
                ),
            )
            .with_state(tx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/backchannel-logout",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, rx)
    }

    /// OpenID Connect Back-Channel Logout 1.0 from Keycloak: `backchannel-client` registers a
    /// `backchannel.logout.url` (set here through the admin API, to this test's port) and
    /// `backchannel.logout.session.required` (`OIDCAdvancedConfigWrapper`); when the user logs
    /// out at another client of the same Keycloak session (an RP-initiated logout of
    /// `logout-client`), Keycloak POSTs a `logout_token` (form-encoded, §2.5) to it.
    /// `Client::verify_logout_token` accepts it: Keycloak's JWKS signature, `iss`, `aud`, the
    /// event, `typ` `logout+jwt`, and the `sid` of the ID token that client received. The same
    /// token again is a replay.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keycloaks_logout_token_is_verified_and_a_replay_refused() {
        let Some(op) = keycloak("backchannel_logout::keycloaks_logout_token") else {
            return;
        };
        let (url, mut deliveries) = receiver().await;
        op.set_client_attribute("backchannel-client", "backchannel.logout.url", &url)
            .await
            .unwrap();
        let initiator = client(op, "logout-client").await;
        let app = client(op, "backchannel-client").await;
        let browser = Browser::new();
        let first = fresh_login(op, &browser, &initiator).await;
        let second = login_in(op, &browser, &app, app.authorize()).await;
        assert!(!second.asked_password, "one Keycloak session, two clients");
        let app_tokens = second.tokens.unwrap();
        assert_eq!(sid(&app_tokens), sid(&first));

        let (logout, _) = initiator
            .logout()
            .id_token_hint(&first)
            .post_logout_redirect_uri(Keycloak::POST_LOGOUT_REDIRECT_URI)
            .build()
            .unwrap();
        let landing = browser
            .navigate(logout.as_str(), Keycloak::POST_LOGOUT_REDIRECT_URI)
            .await
            .unwrap();
        assert!(matches!(landing, Landing::Callback(_)), "{landing:?}");
        let (kind, token) = tokio::time::timeout(Duration::from_secs(10), deliveries.recv())
            .await
            .expect("Keycloak POSTs the logout token")
            .unwrap();
        assert_eq!(kind, "application/x-www-form-urlencoded");

        let guard = MemoryReplayGuard::new();
        let ended = app.verify_logout_token(&token, &guard).await.unwrap();
        assert_eq!(ended.iss, op.issuer());
        assert_eq!(ended.sub.as_deref(), Some(op.user().subject.as_str()));
        assert_eq!(
            ended.sid,
            Some(sid(&app_tokens)),
            "the session of the ID token"
        );
        match app.verify_logout_token(&token, &guard).await {
            Err(Error::LogoutToken(LogoutTokenError::Replayed)) => {}
            other => panic!("a replay must be refused: {other:?}"),
        }
        // Addressed to backchannel-client: the initiator is not its audience.
        let other = initiator
            .verify_logout_token(&token, &MemoryReplayGuard::new())
            .await
            .unwrap_err();
        assert!(matches!(other, Error::LogoutToken(_)), "{other:?}");
    }
}

mod token_exchange {
    use super::*;

    /// A user's access token from `exchange-frontend`, whose audience mapper names
    /// `exchange-requester`: Keycloak's standard token exchange refuses a requester that is
    /// not in the subject token's audience (`StandardTokenExchangeProvider.validateAudience`).
    async fn user_token(op: &Keycloak) -> TokenSet {
        let frontend = client(op, "exchange-frontend").await;
        fresh_login(op, &Browser::new(), &frontend).await
    }

    /// RFC 8693 on Keycloak 26's standard token exchange (client attribute
    /// `standard.token.exchange.enabled`, checked in `StandardTokenExchangeProvider.supports`,
    /// which takes access tokens only as `subject_token_type`). `exchange-requester` trades the
    /// user's token for one whose audience is `exchange-target`; Keycloak sends
    /// `issued_token_type` (`res.setOtherClaims(ISSUED_TOKEN_TYPE, ...)`) and grantkit keeps
    /// it. The target, introspecting, sees a live token for the user with itself as audience.
    /// Asked for an ID token, Keycloak puts it in `access_token` with `token_type` `N_A`
    /// (RFC 8693 §2.2.1).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_users_token_for_another_audience_keeps_issued_token_type() {
        let Some(op) = keycloak("token_exchange::a_users_token_for_another_audience") else {
            return;
        };
        let user = user_token(op).await;
        let requester = client(op, "exchange-requester").await;
        let exchanged = requester
            .token_exchange(user.access_token(), ACCESS_TOKEN)
            .requested_token_type(ACCESS_TOKEN)
            .audience("exchange-target")
            .send()
            .await
            .unwrap();
        assert_eq!(exchanged.issued_token_type(), Some(ACCESS_TOKEN));
        assert_eq!(exchanged.token_type(), &TokenType::Bearer);
        assert_ne!(exchanged.access_token(), user.access_token());

        let target = client(op, "exchange-target").await;
        let seen = target
            .introspect(exchanged.access_token(), None)
            .await
            .unwrap();
        assert!(seen.active, "{seen:?}");
        assert_eq!(seen.aud, ["exchange-target"], "{seen:?}");
        assert_eq!(seen.sub.as_deref(), Some(op.user().subject.as_str()));
        assert_eq!(seen.client_id.as_deref(), Some("exchange-requester"));

        let id_token = requester
            .token_exchange(user.access_token(), ACCESS_TOKEN)
            .requested_token_type(ID_TOKEN)
            .audience("exchange-target")
            .scopes(["openid"])
            .send()
            .await
            .unwrap();
        assert_eq!(id_token.issued_token_type(), Some(ID_TOKEN));
        assert_eq!(id_token.token_type(), &TokenType::Other("N_A".into()));
    }

    /// What Keycloak's standard token exchange refuses, each a typed OAuth error with its code
    /// as sent: an audience the requester may not mint for (`checkRequestedAudiences`:
    /// "Requested audience not available"), a refresh token (`getRequestedTokenType`: only
    /// with `standard.token.exchange.enableRefreshRequestedTokenType`), a subject token whose
    /// audience is not the requester (`access_denied`, HTTP 403), and a client without the
    /// attribute. No secret appears in the errors.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refusals_are_typed_errors() {
        let Some(op) = keycloak("token_exchange::refusals_are_typed_errors") else {
            return;
        };
        let user = user_token(op).await;
        let requester = client(op, "exchange-requester").await;
        let refused = |result: grantkit::Result<TokenSet>| {
            let err = result.unwrap_err();
            let text = format!("{err:?}{err}");
            assert!(!text.contains(user.access_token().expose()), "{text}");
            assert!(!text.contains("kc exchange secret"), "{text}");
            err.oauth().cloned().unwrap_or_else(|| panic!("{err:?}"))
        };
        let e = refused(
            requester
                .token_exchange(user.access_token(), ACCESS_TOKEN)
                .audience("plain-client")
                .send()
                .await,
        );
        assert_eq!(e.code, OAuthErrorCode::InvalidRequest, "{e:?}");
        let e = refused(
            requester
                .token_exchange(user.access_token(), ACCESS_TOKEN)
                .requested_token_type(REFRESH_TOKEN)
                .audience("exchange-target")
                .send()
                .await,
        );
        assert_eq!(e.code, OAuthErrorCode::InvalidRequest, "{e:?}");

        // A token of public-client names no audience: the requester is not in it.
        let public = client(op, "public-client").await;
        let outsider = fresh_login(op, &Browser::new(), &public).await;
        let e = refused(
            requester
                .token_exchange(outsider.access_token(), ACCESS_TOKEN)
                .audience("exchange-target")
                .send()
                .await,
        );
        assert_eq!(e.code, OAuthErrorCode::AccessDenied, "{e:?}");
        assert_eq!(e.status, Some(403), "{e:?}");

        let plain = client(op, "plain-client").await;
        let e = refused(
            plain
                .token_exchange(user.access_token(), ACCESS_TOKEN)
                .audience("exchange-target")
                .send()
                .await,
        );
        assert_eq!(e.code, OAuthErrorCode::InvalidRequest, "{e:?}");
        assert!(
            e.description
                .as_deref()
                .unwrap_or_default()
                .contains("not enabled"),
            "{e:?}"
        );
    }
}

mod max_age_and_acr {
    use super::*;

    fn acr(tokens: &TokenSet) -> String {
        let claims = tokens.id_token_claims().unwrap();
        claims.claim("acr").unwrap().as_str().unwrap().to_owned()
    }

    fn auth_time(tokens: &TokenSet) -> i64 {
        tokens.id_token_claims().unwrap().auth_time.unwrap()
    }

    fn essential(value: &str) -> serde_json::Value {
        json!({"id_token": {"acr": {"essential": true, "values": [value]}}})
    }

    /// `max_age` (OpenID Connect Core §3.1.2.1) at Keycloak: a session younger than `max_age`
    /// answers without a page and its `auth_time` is the first login's; once the login is
    /// older than `max_age`, Keycloak shows its login form again and the new ID token's
    /// `auth_time` is the new login's. grantkit checks `auth_time` against `max_age` at each
    /// exchange, and both pass.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_login_older_than_max_age_is_reauthenticated_and_auth_time_checked() {
        let Some(op) = keycloak("max_age_and_acr::a_login_older_than_max_age") else {
            return;
        };
        let client = client(op, "stepup-client").await;
        let browser = Browser::new();
        let first = fresh_login(op, &browser, &client).await;
        let five_minutes = client.authorize().max_age(Duration::from_secs(300));
        let recent = login_in(op, &browser, &client, five_minutes).await;
        assert!(!recent.asked_password, "the login is younger than max_age");
        assert_eq!(auth_time(&recent.tokens.unwrap()), auth_time(&first));

        tokio::time::sleep(Duration::from_secs(2)).await;
        let one_second = client.authorize().max_age(Duration::from_secs(1));
        let again = login_in(op, &browser, &client, one_second).await;
        assert!(again.asked_password, "the login is older than max_age");
        let again = again.tokens.unwrap();
        assert!(auth_time(&again) > auth_time(&first));
    }

    /// `acr` at Keycloak: `stepup-client`'s `acr.loa.map` names a password login level 1
    /// (`PWD`) and `MFA` level 2, which the realm's default browser flow has no step for.
    /// A password login says `PWD`; a login the session answers alone says `0`
    /// (`AcrProtocolMapper.getAcr`: an SSO login is level 0, a level without a mapping is
    /// sent as its number); an essential `PWD` in a `claims` request makes Keycloak ask for
    /// the password again. An essential `MFA` Keycloak cannot reach: it still issues the ID
    /// token, with `acr` `PWD` [K6] (OpenID Connect Core §5.5.1.1 says a failed
    /// authentication; Keycloak's refusal, `ACR_NOT_FULFILLED` in
    /// `ConditionalLoaAuthenticator.onTopFlowSuccess`, runs only in a flow with LoA
    /// conditions), and grantkit refuses it (`AcrNotSatisfied`), whether asked with
    /// `essential_acr_values` or in a `claims` request. A voluntary `MFA` is answered with
    /// `PWD` and accepted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn essential_acr_is_checked_and_an_unreached_level_is_refused() {
        let Some(op) = keycloak("max_age_and_acr::essential_acr_is_checked") else {
            return;
        };
        let client = client(op, "stepup-client").await;
        let browser = Browser::new();
        let pwd = client.authorize().essential_acr_values([PWD]);
        let pwd = login_in(op, &browser, &client, pwd).await;
        assert!(pwd.asked_password);
        assert_eq!(acr(&pwd.tokens.unwrap()), PWD);
        let sso = login_in(op, &browser, &client, client.authorize()).await;
        assert!(!sso.asked_password);
        assert_eq!(acr(&sso.tokens.unwrap()), "0");
        let step_up = client.authorize().claims(essential(PWD));
        let step_up = login_in(op, &browser, &client, step_up).await;
        assert!(
            step_up.asked_password,
            "an essential acr above the session's"
        );
        assert_eq!(acr(&step_up.tokens.unwrap()), PWD);

        let unmet = IdTokenError::AcrNotSatisfied {
            requested: vec![MFA.into()],
            found: Some(PWD.into()),
        };
        for request in [
            client.authorize().essential_acr_values([MFA]),
            client.authorize().claims(essential(MFA)),
        ] {
            match login_in(op, &browser, &client, request).await.tokens {
                Err(Error::IdToken(e)) => assert_eq!(e, unmet),
                other => panic!("an unmet essential acr must be refused: {other:?}"),
            }
        }
        let voluntary = client.authorize().acr_values([MFA]);
        let voluntary = login_in(op, &browser, &client, voluntary).await;
        assert_eq!(acr(&voluntary.tokens.unwrap()), PWD);
    }
}
