//! grantkit against its anchors, each measured in the same run so only ratios matter:
//!
//! - code exchange and refresh on a loopback token endpoint: grantkit vs a hand-written reqwest
//!   form POST + serde parse (the floor) vs the `oauth2` crate; sequential latency and a batch of
//!   64 concurrent requests (throughput);
//! - ID-token validation with warm keys, RS256 and ES256: grantkit vs `jsonwebtoken` (the floor)
//!   vs `openidconnect`'s verifier, on the same token and key;
//! - authorization URL with state + PKCE + nonce: grantkit vs `oauth2`'s builder.
//!
//! `scripts/bench` runs this and rewrites the tables of `docs/performance.md`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::{get, post};
use axum::{Json, Router};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use grantkit::{Client, Provider, Secret, TokenSet};
use oauth2::TokenResponse as _;
use serde::Deserialize;
use serde_json::{json, Value};

const TOKEN_BODY: &str = r#"{"access_token":"polar_at_u_0123456789abcdef0123456789abcdef","token_type":"Bearer","expires_in":3600,"refresh_token":"polar_rt_u_0123456789abcdef0123456789abcdef","scope":"openid email"}"#;
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const ISSUER: &str = "https://op.example";
const CLIENT_ID: &str = "bench-client";

/// The client side: one thread, so every contender runs under the same scheduling.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The server side on its own thread, so it never competes with the client for a worker.
fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A token endpoint answering a fixed token response, and the JWKS of the fixtures.
async fn serve() -> String {
    let jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/jwks.json")).unwrap())
            .unwrap();
    let app = Router::new()
        .route(
            "/token",
            post(|| async { ([("content-type", "application/json")], TOKEN_BODY) }),
        )
        .route("/jwks", get(move || async move { Json(jwks) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct FloorToken {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    scope: Option<String>,
}

struct Contenders {
    floor: reqwest::Client,
    token_url: String,
    grantkit: Client,
    oauth2: oauth2::basic::BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
    oauth2_http: oauth2::reqwest::Client,
    code: grantkit::AuthorizationCode,
    tokens: TokenSet,
}

fn contenders(base: &str) -> Contenders {
    let token_url = format!("{base}/token");
    let provider = Provider::builder("bench")
        .authorization_endpoint(&format!("{base}/authorize"))
        .token_endpoint(&token_url)
        .build()
        .unwrap();
    let grantkit = Client::builder(provider, CLIENT_ID)
        .client_secret("bench-secret")
        .redirect_uri("http://127.0.0.1/callback")
        .build()
        .unwrap();
    let (_, pending) = grantkit.authorize().build().unwrap();
    let code = pending
        .verify_callback(&format!(
            "?code=the-code&state={}",
            pending.state().expose()
        ))
        .unwrap();
    let oauth2 = oauth2::basic::BasicClient::new(oauth2::ClientId::new(CLIENT_ID.into()))
        .set_client_secret(oauth2::ClientSecret::new("bench-secret".into()))
        .set_auth_uri(oauth2::AuthUrl::new(format!("{base}/authorize")).unwrap())
        .set_token_uri(oauth2::TokenUrl::new(token_url.clone()).unwrap())
        .set_redirect_uri(oauth2::RedirectUrl::new("http://127.0.0.1/callback".into()).unwrap());
    let no_redirects = || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };
    Contenders {
        floor: no_redirects(),
        token_url,
        grantkit,
        oauth2,
        oauth2_http: no_redirects(),
        code,
        tokens: TokenSet::from_response(TOKEN_BODY.as_bytes(), SystemTime::now()).unwrap(),
    }
}

impl Contenders {
    async fn floor(&self, form: &[(&str, &str)]) {
        let body = self
            .floor
            .post(&self.token_url)
            .basic_auth(CLIENT_ID, Some("bench-secret"))
            .header("accept", "application/json")
            .form(form)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let token: FloorToken = serde_json::from_slice(&body).unwrap();
        std::hint::black_box(token);
    }

    async fn floor_exchange(&self) {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", "the-code"),
            ("redirect_uri", "http://127.0.0.1/callback"),
            ("code_verifier", "v".repeat(43).leak()),
        ];
        self.floor(&form).await
    }

    async fn floor_refresh(&self) {
        self.floor(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                "polar_rt_u_0123456789abcdef0123456789abcdef",
            ),
        ])
        .await
    }

    async fn grantkit_exchange(&self) {
        std::hint::black_box(
            self.grantkit
                .exchange_code(self.code.clone())
                .await
                .unwrap(),
        );
    }

    async fn grantkit_refresh(&self) {
        std::hint::black_box(self.grantkit.refresh(&self.tokens).await.unwrap());
    }

    async fn oauth2_exchange(&self) {
        let token = self
            .oauth2
            .exchange_code(oauth2::AuthorizationCode::new("the-code".into()))
            .set_pkce_verifier(oauth2::PkceCodeVerifier::new("v".repeat(43)))
            .request_async(&self.oauth2_http)
            .await
            .unwrap();
        std::hint::black_box(token.access_token());
    }

    async fn oauth2_refresh(&self) {
        let rt = oauth2::RefreshToken::new("polar_rt_u_0123456789abcdef0123456789abcdef".into());
        let token = self
            .oauth2
            .exchange_refresh_token(&rt)
            .request_async(&self.oauth2_http)
            .await
            .unwrap();
        std::hint::black_box(token.access_token());
    }
}

fn grants(c: &mut Criterion) {
    let rt = runtime();
    let server = server_runtime();
    let base = server.block_on(serve());
    let k = contenders(&base);
    let mut group = c.benchmark_group("code_exchange");
    group.bench_function("floor", |b| b.to_async(&rt).iter(|| k.floor_exchange()));
    group.bench_function("grantkit", |b| {
        b.to_async(&rt).iter(|| k.grantkit_exchange())
    });
    group.bench_function("oauth2", |b| b.to_async(&rt).iter(|| k.oauth2_exchange()));
    group.finish();

    let mut group = c.benchmark_group("refresh");
    group.bench_function("floor", |b| b.to_async(&rt).iter(|| k.floor_refresh()));
    group.bench_function("grantkit", |b| {
        b.to_async(&rt).iter(|| k.grantkit_refresh())
    });
    group.bench_function("oauth2", |b| b.to_async(&rt).iter(|| k.oauth2_refresh()));
    group.finish();

    let k = std::sync::Arc::new(k);
    let mut group = c.benchmark_group("code_exchange_x64");
    group.sample_size(30);
    for name in ["floor", "grantkit", "oauth2"] {
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.to_async(&rt).iter(|| {
                let k = k.clone();
                async move {
                    let tasks: Vec<_> = (0..64)
                        .map(|_| {
                            let k = k.clone();
                            tokio::spawn(async move {
                                match name {
                                    "floor" => k.floor_exchange().await,
                                    "grantkit" => k.grantkit_exchange().await,
                                    _ => k.oauth2_exchange().await,
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                }
            })
        });
    }
    group.finish();
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn id_tokens(c: &mut Criterion) {
    let rt = runtime();
    let server = server_runtime();
    let base = server.block_on(serve());
    let provider = Provider::builder("bench")
        .issuer(ISSUER)
        .token_endpoint(&format!("{base}/token"))
        .jwks_uri(&format!("{base}/jwks"))
        .build()
        .unwrap();
    let client = Client::builder(provider, CLIENT_ID).build().unwrap();
    let jwks_json = std::fs::read_to_string(format!("{FIXTURES}/jwks.json")).unwrap();
    let claims = json!({"iss": ISSUER, "sub": "user-1", "aud": CLIENT_ID, "iat": now(), "exp": now() + 86_400, "nonce": "n-1"});
    let nonce = Secret::new("n-1");

    for (kid, alg, oidc_alg) in [
        (
            "rsa-1",
            jsonwebtoken::Algorithm::RS256,
            openidconnect::core::CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ),
        (
            "ec-256",
            jsonwebtoken::Algorithm::ES256,
            openidconnect::core::CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ),
    ] {
        let pem = std::fs::read(format!("{FIXTURES}/{kid}.pem")).unwrap();
        let key = match alg {
            jsonwebtoken::Algorithm::RS256 => {
                jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap()
            }
            _ => jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap(),
        };
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = Some(kid.into());
        let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        let secret = Secret::new(token.clone());
        // Warm grantkit's JWKS cache: after this, validations make no network request.
        rt.block_on(client.verify_id_token(&secret, Some(&nonce)))
            .unwrap();

        let jwk: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&jwks_json).unwrap();
        let floor_key = jsonwebtoken::DecodingKey::from_jwk(jwk.find(kid).unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.set_audience(&[CLIENT_ID]);
        validation.set_issuer(&[ISSUER]);

        let oidc_jwks: openidconnect::core::CoreJsonWebKeySet =
            serde_json::from_str(&jwks_json).unwrap();
        let verifier = openidconnect::core::CoreIdTokenVerifier::new_public_client(
            openidconnect::ClientId::new(CLIENT_ID.into()),
            openidconnect::IssuerUrl::new(ISSUER.into()).unwrap(),
            oidc_jwks,
        )
        .set_allowed_algs(vec![oidc_alg]);
        let oidc_nonce = openidconnect::Nonce::new("n-1".into());

        let mut group = c.benchmark_group(format!(
            "id_token_{}",
            if kid == "rsa-1" { "rs256" } else { "es256" }
        ));
        group.bench_function("floor", |b| {
            b.iter(|| {
                let data = jsonwebtoken::decode::<Value>(&token, &floor_key, &validation).unwrap();
                assert_eq!(data.claims["nonce"], "n-1");
                std::hint::black_box(data);
            })
        });
        group.bench_function("grantkit", |b| {
            b.to_async(&rt).iter(|| async {
                std::hint::black_box(client.verify_id_token(&secret, Some(&nonce)).await.unwrap())
            })
        });
        group.bench_function("openidconnect", |b| {
            b.iter(|| {
                let parsed: openidconnect::core::CoreIdToken = token.parse().unwrap();
                let claims = parsed.claims(&verifier, &oidc_nonce).unwrap();
                std::hint::black_box(claims.subject().as_str().len());
            })
        });
        group.finish();
    }
    assert_eq!(
        client.jwks_fetch_count(),
        1,
        "no network request after warm-up"
    );
}

fn authorize_urls(c: &mut Criterion) {
    let base = "https://op.example";
    let k = contenders(base);
    let client = Client::builder(
        Provider::builder("bench")
            .authorization_endpoint(&format!("{base}/authorize"))
            .token_endpoint(&format!("{base}/token"))
            .build()
            .unwrap(),
        CLIENT_ID,
    )
    .redirect_uri("http://127.0.0.1/callback")
    .scopes(["openid", "email"])
    .build()
    .unwrap();
    let mut group = c.benchmark_group("authorize_url");
    group.bench_function("grantkit", |b| {
        b.iter(|| std::hint::black_box(client.authorize().build().unwrap()))
    });
    group.bench_function("oauth2", |b| {
        b.iter(|| {
            let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
            let nonce = oauth2::CsrfToken::new_random();
            let (url, state) = k
                .oauth2
                .authorize_url(oauth2::CsrfToken::new_random)
                .add_scope(oauth2::Scope::new("openid".into()))
                .add_scope(oauth2::Scope::new("email".into()))
                .set_pkce_challenge(challenge)
                .add_extra_param("nonce", nonce.secret())
                .url();
            std::hint::black_box((url, state, verifier, nonce))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = grants, id_tokens, authorize_urls
}
criterion_main!(benches);
