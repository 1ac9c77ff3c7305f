//! The real `grantkit` binary against the interop matrix's providers (docs/interop.md): the
//! test reads the printed URL, logs in through the provider's own login form with the testkit's
//! `Browser`, delivers the callback to the CLI's loopback listener, and runs the commands a
//! user would after it. One provider start per test binary, so one test per provider.

mod support;

use std::sync::OnceLock;

use grantkit_testkit::{Browser, ClientRole, Hydra, InteropOp, Keycloak};
use support::*;

fn keycloak(test: &str) -> Option<&'static dyn InteropOp> {
    static OP: OnceLock<Option<Keycloak>> = OnceLock::new();
    OP.get_or_init(|| Keycloak::start_or_skip(test))
        .as_ref()
        .map(|op| op as &dyn InteropOp)
}

fn hydra(test: &str) -> Option<&'static dyn InteropOp> {
    static OP: OnceLock<Option<Hydra>> = OnceLock::new();
    OP.get_or_init(|| Hydra::start_or_skip(test))
        .as_ref()
        .map(|op| op as &dyn InteropOp)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `grantkit login` for `role`, through the provider's login form; the finished process.
async fn login(home: &Home, op: &dyn InteropOp, role: ClientRole, secret: Option<&str>) -> Run {
    let client = op.client(role).unwrap();
    let secret = secret.or(client.secret.as_deref());
    let scope = op.scopes().join(" ");
    let env: Vec<(&str, &str)> = secret
        .map(|s| ("GRANTKIT_CLIENT_SECRET", s))
        .into_iter()
        .collect();
    let args = [
        "--issuer",
        op.issuer(),
        "--client-id",
        &client.id,
        "--auth-method",
        client.auth_method,
        "--scope",
        &scope,
    ];
    let login = home.login(&args, &env).await;
    let callback = op
        .login(&Browser::new(), &login.url, &login.redirect_uri())
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", op.name()));
    let (status, page) = deliver(&callback).await;
    let done = login.finish().await;
    assert_eq!(status == 200, done.code() == 0, "{page} {done:?}");
    done
}

/// Both secret methods with a secret holding a space and reserved characters: login, status
/// (and `--check` through introspection), refresh with rotation, userinfo, revoke.
async fn confidential_clients_log_in_refresh_check_and_revoke(op: &dyn InteropOp) {
    for role in [ClientRole::SecretBasic, ClientRole::SecretPost] {
        let home = Home::new("interop-confidential");
        let client = op.client(role).unwrap();
        let env = [("GRANTKIT_CLIENT_SECRET", client.secret.clone().unwrap())];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let done = login(&home, op, role, None).await;
        assert!(done.stderr.contains("Logged in to"), "{role:?}: {done:?}");
        let meta = json(&std::fs::read_to_string(home.meta_file("default")).unwrap());
        assert_eq!(meta["auth_method"], client.auth_method);
        assert!(!std::fs::read_to_string(home.meta_file("default"))
            .unwrap()
            .contains(client.secret.as_deref().unwrap()));

        let status = home.run_env(&["status", "--json"], &env).await;
        assert_eq!(json(status.ok())["subject"], op.user().subject.as_str());
        let checked = home.run_env(&["status", "--check"], &env).await;
        assert!(
            checked.ok().contains("active at the provider"),
            "{checked:?}"
        );
        let first = stored(&home.token_file("default"));
        let refreshed = home.run_env(&["refresh", "--json"], &env).await;
        assert_eq!(json(refreshed.ok())["refresh_token_rotated"], true);
        assert_ne!(
            stored(&home.token_file("default"))["refresh_token"],
            first["refresh_token"]
        );
        let info = json(home.run_env(&["userinfo"], &env).await.ok());
        assert_eq!(info["sub"], op.user().subject.as_str());

        let revoke = home.run_env(&["revoke"], &env).await;
        assert!(
            revoke.ok().is_empty() && revoke.stderr.contains("Revoked"),
            "{revoke:?}"
        );
        assert!(!home.token_file("default").exists());
        home.run_env(&["token"], &env).await.fails_with_one_line(3);
    }
}

/// A wrong secret: the browser page says the login failed, the CLI exits 1 and writes
/// nothing. Keycloak answers `unauthorized_client` (docs/interop.md, K4), so the CLI's
/// `--auth-method` advice, which keys on `invalid_client`, is not given there.
async fn a_wrong_secret_fails_the_login_and_writes_nothing(op: &dyn InteropOp) {
    let home = Home::new("interop-wrong-secret");
    let done = login(&home, op, ClientRole::SecretBasic, Some("not the secret")).await;
    let message = done.fails(1);
    let code = match op.name() {
        "Keycloak" => "unauthorized_client",
        _ => "invalid_client",
    };
    assert!(message.contains(code), "{message}");
    // Keycloak's 401 `unauthorized_client` is a failed client authentication too (K4).
    assert!(message.contains("--auth-method"), "{message}");
    assert!(!message.contains("not the secret"), "{message}");
    assert!(home.snapshot().is_empty());
}

/// Keycloak's introspection answers `active: false` to a client outside the token's audience
/// (docs/interop.md, K2): `plain-client` has Keycloak's default configuration. `status --check`
/// asks userinfo before calling a live token inactive, and says why (before, it reported
/// "not active ... revoked or expired" for a token userinfo served).
async fn status_check_at_keycloak_without_an_audience_mapper_asks_userinfo(op: &dyn InteropOp) {
    let home = Home::new("interop-plain");
    let env = [("GRANTKIT_CLIENT_SECRET", "kc plain secret")];
    let args = ["--issuer", op.issuer(), "--client-id", "plain-client"];
    let login = home.login(&args, &env).await;
    let callback = op
        .login(&Browser::new(), &login.url, &login.redirect_uri())
        .await
        .unwrap();
    assert_eq!(deliver(&callback).await.0, 200);
    login.finish().await.ok();
    let info = json(home.run_env(&["userinfo"], &env).await.ok());
    assert_eq!(info["sub"], op.user().subject.as_str());
    let checked = home.run_env(&["status", "--check"], &env).await;
    let out = checked.ok();
    assert!(
        out.contains("active at the provider (userinfo; introspection said inactive"),
        "{checked:?}"
    );
    assert!(!out.contains("not active"), "{checked:?}");
}

/// A public client: login with PKCE, refresh, revoke.
async fn a_public_client_logs_in_refreshes_and_revokes(op: &dyn InteropOp) {
    let home = Home::new("interop-public");
    login(&home, op, ClientRole::Public, None).await.ok();
    home.run(&["refresh"]).await.ok();
    let info = json(home.run(&["userinfo"]).await.ok());
    assert_eq!(info["sub"], op.user().subject.as_str());
    let revoke = home.run(&["revoke"]).await;
    assert!(revoke.stderr.contains("Revoked"), "{revoke:?}");
    assert!(!home.token_file("default").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_cli_login_status_check_refresh_userinfo_revoke_and_refusals() {
    let Some(op) = keycloak("keycloak_cli") else {
        return;
    };
    confidential_clients_log_in_refresh_check_and_revoke(op).await;
    a_wrong_secret_fails_the_login_and_writes_nothing(op).await;
    // Keycloak lists no `none` (docs/interop.md, K1); the CLI refused public clients before.
    a_public_client_logs_in_refreshes_and_revokes(op).await;
    status_check_at_keycloak_without_an_audience_mapper_asks_userinfo(op).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hydra_cli_login_status_check_refresh_userinfo_revoke_and_refusals() {
    let Some(op) = hydra("hydra_cli") else {
        return;
    };
    confidential_clients_log_in_refresh_check_and_revoke(op).await;
    a_wrong_secret_fails_the_login_and_writes_nothing(op).await;
    a_public_client_logs_in_refreshes_and_revokes(op).await;
}
