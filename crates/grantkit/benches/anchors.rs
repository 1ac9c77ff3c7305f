//! grantkit against its anchors, each measured in the same run so only ratios matter:
//!
//! - code exchange and refresh on a loopback token endpoint: grantkit vs a hand-written reqwest
//!   form POST + serde parse (the floor) vs the `oauth2` crate; sequential latency, a batch of
//!   64 concurrent requests (throughput), and the client's CPU per call. Each contender is
//!   measured *paired* with the floor: every iteration runs both, in alternating order, so the
//!   drift of a shared machine cannot favour either (see `paired`);
//! - ID-token validation with warm keys, RS256 and ES256: grantkit vs `jsonwebtoken` (the floor)
//!   vs `openidconnect`'s verifier, on the same token and key;
//! - authorization URL with state + PKCE + nonce: grantkit vs `oauth2`'s builder.
//!
//! `scripts/bench` runs this and rewrites the tables of `docs/performance.md`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::routing::{get, post};
use axum::{Json, Router};
use criterion::{criterion_group, Criterion};
use grantkit::{Client, Provider, Secret, TokenSet};
use oauth2::TokenResponse as _;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::runtime::Runtime;

const TOKEN_BODY: &str = r#"{"access_token":"polar_at_u_0123456789abcdef0123456789abcdef","token_type":"Bearer","expires_in":3600,"refresh_token":"polar_rt_u_0123456789abcdef0123456789abcdef","scope":"openid email"}"#;
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const ISSUER: &str = "https://op.example";
const CLIENT_ID: &str = "bench-client";
/// The floor's and `oauth2`'s PKCE verifier: 43 characters, like grantkit's.
const VERIFIER: &str = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

/// The client side: one thread, so every contender runs under the same scheduling.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The server side on its own thread, so it never competes with the client for a worker.
fn server_runtime() -> Runtime {
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
    floor_guarded: reqwest::Client,
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
        floor_guarded: reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("grantkit/0.1.0")
            .build()
            .unwrap(),
        token_url,
        grantkit,
        oauth2,
        // oauth2 5 is built on reqwest 0.12: it is measured as its users run it.
        oauth2_http: oauth2::reqwest::Client::builder()
            .redirect(oauth2::reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        code,
        tokens: TokenSet::from_response(TOKEN_BODY.as_bytes(), SystemTime::now()).unwrap(),
    }
}

impl Contenders {
    /// The floor's request on `http`: a form POST, the body read whole, a derived parse.
    async fn floor(&self, http: &reqwest::Client, form: &[(&str, &str)]) {
        let body = http
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

    async fn floor_exchange(&self, http: &reqwest::Client) {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", "the-code"),
            ("redirect_uri", "http://127.0.0.1/callback"),
            ("code_verifier", VERIFIER),
        ];
        self.floor(http, &form).await
    }

    async fn floor_refresh(&self, http: &reqwest::Client) {
        self.floor(
            http,
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    "polar_rt_u_0123456789abcdef0123456789abcdef",
                ),
            ],
        )
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
            .set_pkce_verifier(oauth2::PkceCodeVerifier::new(VERIFIER.into()))
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

/// What one contender call is: a sequential grant, or a batch of 64 concurrent exchanges.
#[derive(Clone, Copy)]
enum Call {
    Exchange,
    Refresh,
    Exchange64,
}

impl Call {
    async fn run(self, k: &Arc<Contenders>, who: Who) {
        match self {
            Call::Exchange => k.exchange(who).await,
            Call::Refresh => k.refresh(who).await,
            Call::Exchange64 => {
                let tasks: Vec<_> = (0..64)
                    .map(|_| {
                        let k = k.clone();
                        tokio::spawn(async move { k.exchange(who).await })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Who {
    Floor,
    /// The floor with grantkit's safety settings: a total timeout (`tokio::time::timeout`, the
    /// usual way) and the same reqwest settings (connect timeout, `User-Agent`).
    FloorGuarded,
    Grantkit,
    Oauth2,
}

/// The clock of a paired measurement.
#[derive(Clone, Copy)]
enum Clock {
    /// Wall time: what a caller waits.
    Wall,
    /// The bench thread's CPU time. The client runtime is single-threaded, so every client task
    /// (reqwest's connection tasks included) runs on this thread, and the server, on its own
    /// thread, is not counted: what each contender adds on top of the wire.
    ClientCpu,
}

/// Times one call with `clock`.
async fn timed(clock: Clock, call: Call, k: &Arc<Contenders>, who: Who) -> Duration {
    match clock {
        Clock::Wall => {
            let start = Instant::now();
            call.run(k, who).await;
            start.elapsed()
        }
        Clock::ClientCpu => {
            let start = cpu_time::ThreadTime::now();
            call.run(k, who).await;
            start.elapsed()
        }
    }
}

impl Contenders {
    async fn exchange(&self, who: Who) {
        match who {
            Who::Floor => self.floor_exchange(&self.floor).await,
            Who::FloorGuarded => guarded(self.floor_exchange(&self.floor_guarded)).await,
            Who::Grantkit => self.grantkit_exchange().await,
            Who::Oauth2 => self.oauth2_exchange().await,
        }
    }

    async fn refresh(&self, who: Who) {
        match who {
            Who::Floor => self.floor_refresh(&self.floor).await,
            Who::FloorGuarded => guarded(self.floor_refresh(&self.floor_guarded)).await,
            Who::Grantkit => self.grantkit_refresh().await,
            Who::Oauth2 => self.oauth2_refresh().await,
        }
    }
}

/// A call under a 30 s total timeout, as a hand-written client would bound it.
async fn guarded(call: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .unwrap();
}

/// The floor's and the contender's time over the same iterations of one criterion sample.
#[derive(serde::Serialize)]
struct Pair {
    floor_ns: f64,
    contender_ns: f64,
}

/// Paired measurement: each iteration runs the floor and the contender back to back (in
/// alternating order), so drift of a shared machine hits both alike. The contender's time goes to
/// criterion; both go to `paired.json` next to criterion's estimates, from which
/// `scripts/perf_tables.py` takes the ratio.
fn paired(
    c: &mut Criterion,
    rt: &Runtime,
    k: &Arc<Contenders>,
    group: &str,
    call: Call,
    clock: Clock,
) {
    let mut g = c.benchmark_group(group);
    let samples = if matches!(call, Call::Exchange64) {
        30
    } else {
        100
    };
    g.sample_size(samples);
    for (name, who) in [
        ("grantkit", Who::Grantkit),
        ("oauth2", Who::Oauth2),
        ("floor_with_timeout", Who::FloorGuarded),
    ] {
        let pairs = Arc::new(Mutex::new(Vec::<Pair>::new()));
        g.bench_function(name, |b| {
            b.to_async(rt).iter_custom(|iters| {
                let (k, pairs) = (k.clone(), pairs.clone());
                async move {
                    let (mut floor, mut contender) = (Duration::ZERO, Duration::ZERO);
                    for i in 0..iters {
                        let order = if i % 2 == 0 {
                            [Who::Floor, who]
                        } else {
                            [who, Who::Floor]
                        };
                        for w in order {
                            let spent = timed(clock, call, &k, w).await;
                            if w == Who::Floor {
                                floor += spent;
                            } else {
                                contender += spent;
                            }
                        }
                    }
                    pairs.lock().unwrap().push(Pair {
                        floor_ns: floor.as_nanos() as f64 / iters as f64,
                        contender_ns: contender.as_nanos() as f64 / iters as f64,
                    });
                    contender
                }
            })
        });
        // Criterion's warm-up calls come first; keep the measured samples only. A run filtered
        // to other benchmarks measured nothing here and leaves the last figures alone.
        let pairs = pairs.lock().unwrap();
        if !pairs.is_empty() {
            write_pairs(group, name, &pairs[pairs.len().saturating_sub(samples)..]);
        }
    }
    g.finish();
}

fn write_pairs(group: &str, name: &str, pairs: &[Pair]) {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").into());
    let dir = format!("{target}/criterion/{group}/{name}");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        format!("{dir}/paired.json"),
        serde_json::to_string(pairs).unwrap(),
    )
    .unwrap();
}

fn grants(c: &mut Criterion) {
    let rt = runtime();
    let server = server_runtime();
    let base = server.block_on(serve());
    let k = Arc::new(contenders(&base));
    for (group, call) in [
        ("code_exchange", Call::Exchange),
        ("refresh", Call::Refresh),
        ("code_exchange_x64", Call::Exchange64),
    ] {
        paired(c, &rt, &k, group, call, Clock::Wall);
        if !matches!(call, Call::Exchange64) {
            paired(
                c,
                &rt,
                &k,
                &format!("{group}_client_cpu"),
                call,
                Clock::ClientCpu,
            );
        }
    }
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

/// `GRANTKIT_BENCH_CALLS="<floor|grantkit|oauth2> <exchange|refresh> <n>"`: just make `n` calls
/// and exit, for counting what one call costs under a tool (`valgrind --tool=callgrind
/// --separate-threads=yes`, `strace -f -c`): run it with two values of `n` and take the difference.
fn count_calls(spec: &str) {
    let [who, what, n] = spec.split_whitespace().collect::<Vec<_>>()[..] else {
        panic!("GRANTKIT_BENCH_CALLS: expected `<who> <what> <n>`, got {spec:?}");
    };
    let who = match who {
        "floor" => Who::Floor,
        "grantkit" => Who::Grantkit,
        "oauth2" => Who::Oauth2,
        other => panic!("unknown contender {other:?}"),
    };
    let call = if what == "exchange" {
        Call::Exchange
    } else {
        Call::Refresh
    };
    let (rt, server) = (runtime(), server_runtime());
    let k = Arc::new(contenders(&server.block_on(serve())));
    rt.block_on(async {
        for _ in 0..n.parse::<u64>().unwrap() {
            call.run(&k, who).await;
        }
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = grants, id_tokens, authorize_urls
}

fn main() {
    if let Ok(spec) = std::env::var("GRANTKIT_BENCH_CALLS") {
        return count_calls(&spec);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
