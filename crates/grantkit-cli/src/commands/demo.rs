//! `grantkit demo`: a complete login on this machine against the testkit's fake Polar.sh.

use std::time::{Duration, Instant};

use grantkit::store::{FileTokenStore, TokenStore};
use grantkit::{TokenSource, TokenTypeHint};
use grantkit_polar_sh::{ClientMetadata, PolarSh, Scope};
use grantkit_testkit::polar_sh::FakePolarSh;
use grantkit_testkit::Browser;

use super::{start_authorization, wait_for_callback, Ctx};
use crate::cli::DemoArgs;
use crate::error::{CliError, CliResult};
use crate::loopback::Loopback;
use crate::output::Out;

struct Steps<'a> {
    out: &'a Out,
    n: usize,
    started: Instant,
    step: Instant,
}

impl Steps<'_> {
    fn begin(&mut self) {
        self.step = Instant::now();
    }

    fn done(&mut self, name: &str, text: &str) {
        self.n += 1;
        let ms = self.step.elapsed().as_secs_f64() * 1000.0;
        self.out.line(&format!(
            "{:>3}. {} {} {text}",
            self.n,
            self.out.bold(&format!("{name:<10}")),
            self.out.dim(&format!("{ms:>7.1} ms")),
        ));
        self.step = Instant::now();
    }

    fn detail(&self, text: &str) {
        self.out.line(&format!("{:>26} {}", "", self.out.dim(text)));
    }

    fn fail(&self, name: &str, why: impl std::fmt::Display) -> CliError {
        CliError::failure(format!(
            "the demo failed at step {} ({name}): {why}",
            self.n + 1
        ))
    }
}

/// Runs `grantkit demo`.
pub async fn run(ctx: &Ctx, _args: DemoArgs) -> CliResult {
    let dir = std::env::temp_dir().join(format!("grantkit-demo-{}", std::process::id()));
    let result = demo(&ctx.out, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn demo(out: &Out, dir: &std::path::Path) -> CliResult {
    out.line(&format!(
        "{}: a complete OAuth 2.0 + OpenID Connect login on this machine, against the testkit's fake \
         Polar.sh (no network, no credentials)",
        out.bold("grantkit demo")
    ));
    let now = Instant::now();
    let mut s = Steps {
        out,
        n: 0,
        started: now,
        step: now,
    };
    let scopes = [Scope::OpenId, Scope::Email, Scope::Profile];

    s.begin();
    let fake = FakePolarSh::start().await.map_err(|e| s.fail("start", e))?;
    s.done(
        "start",
        &format!(
            "fake Polar.sh at {} (plays api.polar.sh and polar.sh; issuer https://polar.sh)",
            fake.api_base()
        ),
    );

    let listener = Loopback::bind(0).await.map_err(|e| s.fail("listen", e))?;
    let redirect = listener.redirect_uri();
    s.done(
        "listen",
        &format!("loopback redirect URI {redirect} (RFC 8252: 127.0.0.1, a free port)"),
    );

    let polar = PolarSh::custom(fake.api_base(), fake.web_base());
    let registered = polar
        .registrar()
        .map_err(|e| s.fail("register", e))?
        .register(&ClientMetadata::new(
            "grantkit demo",
            vec![redirect.clone()],
            &scopes,
        ))
        .await
        .map_err(|e| s.fail("register", e))?;
    let secret = registered
        .client_secret
        .clone()
        .ok_or_else(|| s.fail("register", "the fake issued no client secret"))?;
    s.done(
        "register",
        &format!(
            "client {} registered for exactly that redirect URI (RFC 7591, client_secret_post)",
            registered.client_id
        ),
    );

    let provider = polar.discover().await.map_err(|e| s.fail("discover", e))?;
    s.done(
        "discover",
        "metadata read from the API host; its issuer https://polar.sh checked (expected explicitly)",
    );

    let client = polar
        .client_builder(provider, registered.client_id.clone())
        .client_secret(secret)
        .redirect_uri(redirect.clone())
        .build()
        .map_err(|e| s.fail("authorize", e))?;
    let scope_names: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
    let (url, pending) = start_authorization(&client, &listener, &scope_names, &[])
        .map_err(|e| s.fail("authorize", e))?;
    s.done(
        "authorize",
        "authorization URL with state, PKCE S256 and a nonce:",
    );
    s.detail(url.as_str());

    // The user's browser: a cookie-holding client that approves the consent page and lands
    // on the demo's own loopback listener, as a real browser would.
    let browser = {
        let (url, redirect) = (url.to_string(), redirect.clone());
        tokio::spawn(async move {
            let callback = Browser::new()
                .authorize(&url, &redirect)
                .await
                .map_err(|e| e.to_string())?;
            let page = reqwest::get(callback).await.map_err(|e| e.to_string())?;
            Ok::<u16, String>(page.status().as_u16())
        })
    };
    let (code, answer) = wait_for_callback(out, listener, &pending, Duration::from_secs(30))
        .await
        .map_err(|e| s.fail("consent", e))?;
    s.done(
        "consent",
        "approved in the (stand-in) browser; the callback reached the listener, its state matched",
    );

    // The browser's page waits for the exchange's outcome.
    let exchanged = client.exchange_code(code).await;
    answer
        .send(exchanged.as_ref().map(|_| ()).map_err(|e| e.to_string()))
        .await;
    let page = browser
        .await
        .map_err(|e| s.fail("exchange", e))?
        .map_err(|e| s.fail("exchange", e))?;
    let tokens = exchanged.map_err(|e| s.fail("exchange", e))?;
    if page != 200 {
        return Err(s.fail("exchange", format!("the success page answered HTTP {page}")));
    }
    let claims = tokens
        .id_token_claims()
        .ok_or_else(|| s.fail("exchange", "no validated ID token"))?;
    let sub = claims.sub.clone();
    s.done(
        "exchange",
        &format!(
            "code + PKCE verifier → access and refresh tokens; ID token verified (RS256 via JWKS, iss, aud, nonce): sub {sub}"
        ),
    );

    let store = FileTokenStore::new(dir.join("tokens.json"));
    let source = TokenSource::builder(client.clone())
        .store(store.clone())
        // A CLI process exits right after: no background refresh it could cut short.
        .refresh_ahead(std::time::Duration::ZERO)
        .tokens(tokens.clone())
        .build()
        .await
        .map_err(|e| s.fail("save", e))?;
    let mode = file_mode(store.path());
    s.done(
        "save",
        &format!(
            "tokens saved in {} (mode {mode}, written atomically)",
            store.path().display()
        ),
    );

    let info = client
        .userinfo(&tokens)
        .await
        .map_err(|e| s.fail("userinfo", e))?;
    s.done(
        "userinfo",
        &format!(
            "sub {} (matches the ID token), email {}",
            info.sub,
            info.email.as_deref().unwrap_or("-")
        ),
    );

    let fresh = source
        .force_refresh()
        .await
        .map_err(|e| s.fail("refresh", e))?;
    let saved = store
        .load()
        .await
        .map_err(|e| s.fail("refresh", e))?
        .ok_or_else(|| s.fail("refresh", "the token file is empty"))?;
    if saved.access_token() != fresh.secret() || saved.refresh_token() == tokens.refresh_token() {
        return Err(s.fail("refresh", "the rotated pair was not saved"));
    }
    match client.refresh(&tokens).await {
        Err(e) if e.is_reauthorization_required() => {}
        Err(e) => {
            return Err(s.fail(
                "refresh",
                format!("unexpected error replaying the old refresh token: {e}"),
            ))
        }
        Ok(_) => return Err(s.fail("refresh", "the old refresh token still works")),
    }
    s.done(
        "refresh",
        "new access and refresh tokens, saved before use; the old refresh token is now refused (rotation)",
    );

    let current = fresh.token_set().clone();
    let intro = client
        .introspect(current.access_token(), Some(TokenTypeHint::AccessToken))
        .await
        .map_err(|e| s.fail("introspect", e))?;
    if !intro.active {
        return Err(s.fail("introspect", "the fresh access token is inactive"));
    }
    s.done(
        "introspect",
        &format!(
            "active, scope `{}`, sub_type {}",
            intro.scope.as_deref().unwrap_or(""),
            intro
                .extra
                .get("sub_type")
                .and_then(|v| v.as_str())
                .unwrap_or("-")
        ),
    );

    client
        .revoke_tokens(&current)
        .await
        .map_err(|e| s.fail("revoke", e))?;
    let after = client
        .introspect(current.access_token(), Some(TokenTypeHint::AccessToken))
        .await
        .map_err(|e| s.fail("revoke", e))?;
    if after.active {
        return Err(s.fail("revoke", "the access token is still active"));
    }
    store.delete().await.map_err(|e| s.fail("revoke", e))?;
    s.done(
        "revoke",
        "refresh and access tokens revoked (RFC 7009): introspection says inactive; token file deleted",
    );

    out.ok(&format!(
        "demo complete: {} steps in {:.0} ms. Log in to a real provider with `grantkit login --help`.",
        s.n,
        s.started.elapsed().as_secs_f64() * 1000.0
    ));
    Ok(())
}

fn file_mode(path: &std::path::Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            return format!("{:o}", meta.permissions().mode() & 0o777);
        }
    }
    let _ = path;
    "private".to_owned()
}
