//! The BFF proxy with a DPoP-bound access token (RFC 9449), against the oidc-provider peer
//! (DPoP enabled: a proof at its token endpoint binds the tokens) and an upstream API that
//! checks each proof as RFC 9449 §4.3 and §7.1 say (signature with `jsonwebtoken` and the
//! header's `jwk`, `typ`, `htm`, `htu`, `iat`, unique `jti`, `ath`, its own nonce) and demands
//! a nonce it issued (§9: `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a
//! `DPoP-Nonce` header).

mod support;
mod web;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use grantkit::dpop::DpopKey;
use grantkit_axum::BffApis;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::Browser;
use web::Setup;

const NONCE: &str = "upstream-nonce-1";

/// What the upstream saw of each request: the authorization scheme, the proof's claims, and
/// whether it was accepted.
#[derive(Clone, Debug)]
struct Seen {
    scheme: String,
    jkt: String,
    claims: Value,
    accepted: bool,
}

#[derive(Clone, Default)]
struct DpopApi {
    seen: Arc<Mutex<Vec<Seen>>>,
    jtis: Arc<Mutex<HashSet<String>>>,
    origin: Arc<Mutex<String>>,
}

impl DpopApi {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        *self.origin.lock().unwrap() = origin.clone();
        let api = self.clone();
        let app = Router::new().route(
            "/v1/{*rest}",
            any(move |method: Method, uri: Uri, headers: HeaderMap| {
                let api = api.clone();
                async move { api.answer(&method, &uri, &headers) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("{origin}/v1")
    }

    /// RFC 9449 §7.1: `Authorization: DPoP <token>` and a `DPoP` proof checked per §4.3.
    fn answer(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        let (scheme, token) = text("authorization").split_once(' ').unwrap_or(("", ""));
        let proof = text("dpop");
        let header = jsonwebtoken::decode_header(proof).expect("a JWT proof");
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        let jwk = header
            .jwk
            .clone()
            .expect("the public key in the proof's header");
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(header.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Value>(proof, &key, &validation)
            .expect("the proof's signature checks out with its jwk")
            .claims;
        let jkt = jwk
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .unwrap();
        let htu = format!("{}{}", self.origin.lock().unwrap(), uri.path());
        assert_eq!(claims["htm"], method.as_str());
        assert_eq!(claims["htu"], htu, "htu is the upstream URL without query");
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        assert_eq!(claims["ath"], ath, "ath is the hash of the token sent");
        let iat = claims["iat"].as_i64().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((iat - now).abs() <= 60, "iat {iat} now {now}");
        let jti = claims["jti"].as_str().unwrap().to_owned();
        assert!(self.jtis.lock().unwrap().insert(jti), "a proof replayed");
        let accepted = claims["nonce"] == NONCE && scheme == "DPoP";
        self.seen.lock().unwrap().push(Seen {
            scheme: scheme.to_owned(),
            jkt,
            claims,
            accepted,
        });
        if accepted {
            return (StatusCode::OK, "upstream ok").into_response();
        }
        let challenge = r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#;
        (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", challenge), ("dpop-nonce", NONCE)],
        )
            .into_response()
    }
}

#[tokio::test]
async fn bff_dpop_proxy_sends_a_fresh_bound_proof_per_request_and_retries_once_on_use_dpop_nonce() {
    let test =
        "bff_dpop_proxy_sends_a_fresh_bound_proof_per_request_and_retries_once_on_use_dpop_nonce";
    let key = DpopKey::generate().unwrap();
    let upstream = DpopApi::default();
    let base = upstream.start().await;
    let client_key = key.clone();
    let setup = Setup {
        client: Box::new(move |c| c.dpop(client_key)),
        ..Setup::default()
    };
    let routes = |gk: &grantkit_axum::Grantkit| {
        let issuer = gk.client().provider().issuer().unwrap().to_owned();
        let apis = BffApis::new()
            .api("rs", &base)
            .unwrap()
            .api("idp", &issuer)
            .unwrap();
        let home = Router::new().route("/", get(|| async { "home" }));
        home.merge(gk.bff(apis))
    };
    let Some(app) = web::start(test, setup, routes).await else {
        return;
    };
    let browser = Browser::new(&app);
    let landed = browser.navigate(&app.url("/bff/login?return_to=%2F")).await;
    assert_eq!(landed.body, "home", "{landed:?}");
    let url = app.url("/bff/api/rs/orders/7?page=2");
    let (status, body) = browser.spa_fetch(reqwest::Method::GET, &url, true).await;
    assert_eq!((status, body.as_str()), (200, "upstream ok"));
    let (status, _) = browser.spa_fetch(reqwest::Method::POST, &url, true).await;
    assert_eq!(status, 200);
    let seen = upstream.seen.lock().unwrap().clone();
    // The first proof had no nonce and met the challenge; the one retry carried it; the next
    // request reused it.
    let accepted: Vec<bool> = seen.iter().map(|s| s.accepted).collect();
    assert_eq!(accepted, [false, true, true], "{seen:?}");
    assert_eq!(seen[0].claims.get("nonce"), None);
    assert_eq!(seen[2].claims["htm"], "POST");
    for s in &seen {
        assert_eq!(s.scheme, "DPoP", "a DPoP-bound token is not sent as Bearer");
        assert_eq!(s.jkt, key.thumbprint(), "signed with the client's DPoP key");
    }
    // The peer's userinfo (oidc-provider checks the proof against the token's `cnf.jkt`)
    // accepts the proxied token.
    let (status, body) = browser
        .spa_fetch(reqwest::Method::GET, &app.url("/bff/api/idp/me"), true)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""sub":"alice""#), "{body}");
}
