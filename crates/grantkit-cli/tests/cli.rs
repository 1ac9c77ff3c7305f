//! The real `grantkit` binary against the real `oidc-provider` peer and the fake Polar.sh:
//! the test reads the printed URL from stdout, plays the browser with the testkit's
//! cookie-holding `Browser`, delivers the callback to the CLI's loopback listener, and checks
//! the saved files and every command after the login.

mod support;

use grantkit_polar_sh::{ClientMetadata, PolarSh, Scope};
use grantkit_testkit::polar_sh::{Consent, FakePolarSh};
use grantkit_testkit::{FakeAccessLink, OidcPeer, ACCESSLINK_CLIENT_ID, ACCESSLINK_CLIENT_SECRET};
use support::*;

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Logs in through the peer and returns the finished login.
async fn peer_login(home: &Home, peer: &OidcPeer, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["--issuer", peer.issuer()];
    all.extend_from_slice(args);
    let login = home.login(&all, env).await;
    let url = url::Url::parse(&login.url).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let has = |k: &str| query.iter().any(|(n, _)| n == k);
    assert!(
        has("state") && has("nonce") && has("code_challenge"),
        "{url}"
    );
    assert!(query.contains(&("code_challenge_method".into(), "S256".into())));
    assert!(login.redirect_uri().starts_with("http://127.0.0.1:"));
    assert!(login.redirect_uri().ends_with("/callback"));
    let callback = login.approve().await;
    let (status, page) = deliver(&callback).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("close this tab"), "{page}");
    login.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_client_at_the_peer_logs_in_then_token_refresh_userinfo_introspect_status_revoke() {
    let Some(peer) = OidcPeer::start_or_skip("cli public client") else {
        return;
    };
    let home = Home::new("peer-public");
    let login = peer_login(
        &home,
        &peer,
        &["--client-id", "public-client", "--json"],
        &[],
    )
    .await;
    login.ok();
    assert!(login.stderr.contains("Logged in to"), "{}", login.stderr);
    assert!(
        login.stderr.contains("alice (alice@example.test, Alice)"),
        "{}",
        login.stderr
    );
    let summary = json(&login.stdout);
    assert_eq!(summary["subject"], "alice");
    assert_eq!(summary["refresh_token"], true);

    // The files: tokens 0600 through the file store, metadata beside them, no secret.
    let tokens = home.token_file("default");
    assert_eq!(mode(&tokens), 0o600);
    assert_eq!(mode(&home.meta_file("default")), 0o600);
    assert_eq!(mode(&home.config()), 0o700);
    let meta = json(&std::fs::read_to_string(home.meta_file("default")).unwrap());
    assert_eq!(meta["client_id"], "public-client");
    assert_eq!(meta["auth_method"], "none");
    assert_eq!(meta["selected"]["issuer"], peer.issuer());
    assert_eq!(meta["provider"]["issuer"], peer.issuer());
    assert_eq!(meta["identity"]["email"], "alice@example.test");
    let first = stored(&tokens);

    // token: the stored access token alone on stdout.
    let token = home.run(&["token"]).await;
    assert_eq!(
        token.ok(),
        format!("{}\n", first["access_token"].as_str().unwrap())
    );
    assert!(token.stderr.is_empty(), "{}", token.stderr);
    let token_json = json(home.run(&["token", "--json"]).await.ok());
    assert_eq!(token_json["token_type"], "Bearer");
    assert!(token_json["expires_in"].as_u64().unwrap() > 3000);

    // status, in words and as JSON.
    let status = home.run(&["status"]).await;
    status.ok();
    assert!(status.stdout.contains("alice"), "{}", status.stdout);
    assert!(
        status.stdout.contains("valid, expires in"),
        "{}",
        status.stdout
    );
    let status = json(home.run(&["status", "--json"]).await.ok());
    assert_eq!(status["subject"], "alice");
    assert_eq!(status["refreshable"], true);
    assert_eq!(status["needs_login"], false);

    // refresh: the peer rotates both tokens; the new pair is saved and `token` hands it out.
    let refreshed = home.run(&["refresh", "--json"]).await;
    assert_eq!(json(refreshed.ok())["refresh_token_rotated"], true);
    let second = stored(&tokens);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(mode(&tokens), 0o600);
    let token = home.run(&["token"]).await;
    assert_eq!(token.ok().trim(), second["access_token"].as_str().unwrap());

    // userinfo (JSON on stdout) and introspection.
    let info = json(home.run(&["userinfo"]).await.ok());
    assert_eq!(info["sub"], "alice");
    assert_eq!(info["email"], "alice@example.test");
    let intro = json(home.run(&["introspect"]).await.ok());
    assert_eq!(intro["active"], true);
    assert_eq!(intro["client_id"], "public-client");
    let intro = json(home.run(&["introspect", "--refresh-token"]).await.ok());
    assert_eq!(intro["active"], true);

    // revoke: the files are gone and the tokens dead.
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(bearer_status(&peer.url("/me"), access).await, 200);
    let revoke = home.run(&["revoke"]).await;
    revoke.ok();
    assert!(revoke.stderr.contains("Revoked"), "{}", revoke.stderr);
    assert!(!tokens.exists());
    assert!(!home.meta_file("default").exists());
    assert_eq!(bearer_status(&peer.url("/me"), access).await, 401);
    let after = home.run(&["token"]).await.fails_with_one_line(3);
    assert!(after.contains("grantkit login"), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confidential_client_at_the_peer_reads_its_secret_from_the_environment_and_never_stores_it()
{
    let Some(peer) = OidcPeer::start_or_skip("cli confidential client") else {
        return;
    };
    let secret = "basic+secret%with:odd/chars";
    let home = Home::new("peer-confidential");
    let env = [
        ("GRANTKIT_CLIENT_SECRET", secret),
        ("GRANTKIT_CLIENT_ID", "basic-client"),
    ];
    let args = [
        "--profile",
        "work",
        "--scope",
        "openid email",
        "--auth-method",
        "client_secret_basic",
    ];
    let login = peer_login(&home, &peer, &args, &env).await;
    login.ok();
    for (path, bytes) in home.snapshot() {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(secret),
            "the secret is in {}",
            path.display()
        );
    }
    assert!(!login.stdout.contains(secret) && !login.stderr.contains(secret));
    let meta = json(&std::fs::read_to_string(home.meta_file("work")).unwrap());
    assert_eq!(meta["auth_method"], "client_secret_basic");
    assert_eq!(meta["scopes"], serde_json::json!(["openid", "email"]));

    // A fresh token needs no secret; a refresh does, and says how to give it.
    home.run(&["token", "--profile", "work"]).await.ok();
    let before = std::fs::read(home.token_file("work")).unwrap();
    let refused = home.run(&["refresh", "--profile", "work"]).await;
    let message = refused.fails_with_one_line(2);
    assert!(message.contains("GRANTKIT_CLIENT_SECRET"), "{message}");
    assert_eq!(std::fs::read(home.token_file("work")).unwrap(), before);

    let env = [
        ("GRANTKIT_CLIENT_SECRET", secret),
        ("GRANTKIT_PROFILE", "work"),
    ];
    home.run_env(&["refresh"], &env).await.ok();
    let access = stored(&home.token_file("work"))["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let intro = json(home.run_env(&["introspect"], &env).await.ok());
    assert_eq!(intro["active"], true);
    assert_eq!(intro["client_id"], "basic-client");
    assert_eq!(
        json(home.run_env(&["userinfo"], &env).await.ok())["email"],
        "alice@example.test"
    );
    home.run_env(&["logout"], &env).await.ok();
    assert!(!home.token_file("work").exists());
    assert_eq!(bearer_status(&peer.url("/me"), &access).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_client_logs_in_with_a_key_file_and_needs_it_again_to_refresh() {
    let Some(peer) = OidcPeer::start_or_skip("cli private_key_jwt client") else {
        return;
    };
    let home = Home::new("peer-private-key");
    // The key file the peer registered for `jwt-strict-key-client` (P-256 JWK), copied into the
    // home. That client accepts only assertions with `aud` = the issuer and the draft-ietf-oauth-
    // rfc7523bis `typ`, so every step below also proves the CLI sends those.
    let key_file = home.dir.join("client-key.jwk.json");
    std::fs::write(&key_file, OidcPeer::fixture("peer-client-ec.jwk.json")).unwrap();
    let key = key_file.to_str().unwrap();
    let env = [
        ("GRANTKIT_PRIVATE_KEY", key),
        ("GRANTKIT_CLIENT_ID", "jwt-strict-key-client"),
    ];
    let login = peer_login(&home, &peer, &["--scope", "openid email"], &env).await;
    login.ok();
    let meta = json(&std::fs::read_to_string(home.meta_file("default")).unwrap());
    assert_eq!(
        meta["auth_method"], "private_key_jwt",
        "chosen from the key"
    );
    let private_d = json(&OidcPeer::fixture("peer-client-ec.jwk.json"))["d"]
        .as_str()
        .unwrap()
        .to_owned();
    for (path, bytes) in home.snapshot() {
        if path == key_file {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&private_d) && !text.contains("client-key.jwk.json"),
            "the key or its path is in {}",
            path.display()
        );
    }

    // A refresh signs a fresh assertion: without the key it is refused and changes nothing.
    let before = std::fs::read(home.token_file("default")).unwrap();
    let message = home.run(&["refresh"]).await.fails_with_one_line(2);
    assert!(message.contains("GRANTKIT_PRIVATE_KEY"), "{message}");
    assert_eq!(std::fs::read(home.token_file("default")).unwrap(), before);
    home.run_env(&["refresh"], &env).await.ok();
    assert_ne!(std::fs::read(home.token_file("default")).unwrap(), before);
    let intro = json(home.run_env(&["introspect"], &env).await.ok());
    assert_eq!(intro["active"], true);
    assert_eq!(intro["client_id"], "jwt-strict-key-client");

    // A key that is not a key, and a key next to a secret-based method, are usage errors.
    let garbage = home.dir.join("garbage.pem");
    std::fs::write(&garbage, "not a key").unwrap();
    let bad = home
        .run_env(
            &["refresh"],
            &[("GRANTKIT_PRIVATE_KEY", garbage.to_str().unwrap())],
        )
        .await;
    let message = bad.fails_with_one_line(2);
    assert!(message.contains("garbage.pem"), "{message}");
    let mixed = home
        .run_env(
            &[
                "login",
                "--issuer",
                peer.issuer(),
                "--auth-method",
                "client_secret_basic",
            ],
            &[
                ("GRANTKIT_PRIVATE_KEY", key),
                ("GRANTKIT_CLIENT_ID", "jwt-strict-key-client"),
                ("GRANTKIT_CLIENT_SECRET", "s"),
            ],
        )
        .await;
    assert!(mixed.fails_with_one_line(2).contains("--private-key"));
}

/// A confidential client registered at the fake for exactly `http://127.0.0.1:<port>/callback`
/// (Polar compares redirect URIs exactly).
async fn polar_client(
    fake: &FakePolarSh,
    port: u16,
    method: grantkit::AuthMethod,
) -> (String, Option<String>) {
    let polar = PolarSh::custom(fake.api_base(), fake.web_base());
    let client = polar
        .registrar()
        .unwrap()
        .register(
            &ClientMetadata::new(
                "cli test",
                vec![format!("http://127.0.0.1:{port}/callback")],
                &[Scope::OpenId, Scope::Email, Scope::Profile],
            )
            .auth_method(method),
        )
        .await
        .unwrap();
    (
        client.client_id,
        client.client_secret.map(|s| s.expose().to_owned()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polar_sh_preset_against_the_fake_logs_in_refreshes_with_rotation_and_revokes() {
    let fake = FakePolarSh::start().await.unwrap();
    let port = free_port();
    let (client_id, secret) =
        polar_client(&fake, port, grantkit::AuthMethod::ClientSecretPost).await;
    let secret = secret.unwrap();
    let home = Home::new("polar");
    let api = fake.api_base();
    let env = [
        ("GRANTKIT_CLIENT_SECRET", secret.as_str()),
        ("GRANTKIT_POLAR_API_BASE", api.as_str()),
    ];
    let port_text = port.to_string();
    let login = home
        .login(
            &[
                "--provider",
                "polar-sh",
                "--client-id",
                &client_id,
                "--redirect-port",
                &port_text,
            ],
            &env,
        )
        .await;
    assert_eq!(
        login.redirect_uri(),
        format!("http://127.0.0.1:{port}/callback")
    );
    let callback = login.approve().await;
    assert_eq!(deliver(&callback).await.0, 200);
    let done = login.finish().await;
    done.ok();
    let who = format!("{} (merchant@example.test)", fake.user_id());
    assert!(done.stderr.contains(&who), "{}", done.stderr);
    assert!(
        done.stderr.contains("Logged in to Polar.sh"),
        "{}",
        done.stderr
    );
    let meta = json(&std::fs::read_to_string(home.meta_file("default")).unwrap());
    assert_eq!(meta["selected"]["kind"], "polar-sh");
    assert_eq!(meta["selected"]["api_base"], api.as_str());
    assert_eq!(meta["auth_method"], "client_secret_post");
    assert_eq!(meta["provider"]["issuer"], "https://polar.sh");
    assert_eq!(
        meta["provider"]["default_auth_method"],
        "client_secret_post"
    );
    assert_eq!(
        meta["provider"]["quirks"]["public_clients_can_revoke"],
        false
    );

    // Later commands need only the secret: the profile remembers the (fake) API base.
    let env = [("GRANTKIT_CLIENT_SECRET", secret.as_str())];
    let first = home.run_env(&["token"], &env).await.ok().trim().to_owned();
    assert!(fake.is_access_token_live(&first));
    let refreshed = home.run_env(&["refresh"], &env).await;
    refreshed.ok();
    assert!(
        refreshed.stderr.contains("refresh token rotated"),
        "{}",
        refreshed.stderr
    );
    assert_eq!(fake.refresh_requests(), 1);
    let second = home.run_env(&["token"], &env).await.ok().trim().to_owned();
    assert_ne!(first, second);
    assert!(
        !fake.is_access_token_live(&first),
        "Polar kills the old pair on refresh"
    );
    assert!(fake.is_access_token_live(&second));

    let info = json(home.run_env(&["userinfo"], &env).await.ok());
    assert_eq!(info["sub"], fake.user_id());
    let intro = json(home.run_env(&["introspect"], &env).await.ok());
    assert_eq!(intro["active"], true);
    assert_eq!(intro["sub_type"], "user");
    let status = home.run_env(&["status"], &env).await;
    status.ok();
    assert!(
        status.stdout.contains("Polar.sh (https://polar.sh)"),
        "{}",
        status.stdout
    );

    let listed = json(home.run(&["profiles", "--json"]).await.ok());
    assert_eq!(listed[0]["profile"], "default");
    assert_eq!(listed[0]["provider"], "Polar.sh");

    home.run_env(&["revoke"], &env).await.ok();
    assert!(!fake.is_access_token_live(&second));
    assert!(home.snapshot().is_empty(), "{:?}", home.snapshot());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polar_public_client_cannot_revoke_so_revoke_says_to_use_local_only() {
    let fake = FakePolarSh::start().await.unwrap();
    let port = free_port();
    let (client_id, _) = polar_client(&fake, port, grantkit::AuthMethod::None).await;
    let home = Home::new("polar-public");
    let api = fake.api_base();
    let port_text = port.to_string();
    let login = home
        .login(
            &[
                "--provider",
                "polar-sh-sandbox",
                "--polar-api-base",
                &api,
                "--client-id",
                &client_id,
                "--redirect-port",
                &port_text,
            ],
            &[],
        )
        .await;
    let callback = login.approve().await;
    deliver(&callback).await;
    login.finish().await.ok();
    let token = home.run(&["token"]).await.ok().trim().to_owned();

    let before = home.snapshot();
    let refused = home.run(&["revoke"]).await;
    let message = refused.fails_with_one_line(2);
    assert!(message.contains("--local-only"), "{message}");
    assert_eq!(home.snapshot(), before, "nothing deleted");
    let introspect = home.run(&["introspect"]).await.fails_with_one_line(2);
    assert!(introspect.contains("confidential client"), "{introspect}");

    home.run(&["revoke", "--local-only"]).await.ok();
    assert!(home.snapshot().is_empty());
    assert!(
        fake.is_access_token_live(&token),
        "--local-only does not call the provider"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_every_step_offline_and_exits_zero() {
    let home = Home::new("demo");
    let demo = home.run(&["demo"]).await;
    demo.ok();
    for step in [
        "start",
        "listen",
        "register",
        "discover",
        "authorize",
        "consent",
        "exchange",
        "save",
        "userinfo",
        "refresh",
        "introspect",
        "revoke",
    ] {
        assert!(
            demo.stderr.contains(&format!(". {step} ")),
            "no step {step}:\n{}",
            demo.stderr
        );
    }
    assert!(
        demo.stderr.contains("demo complete: 12 steps"),
        "{}",
        demo.stderr
    );
    assert!(demo.stderr.contains("mode 600"), "{}", demo.stderr);
    assert!(demo.stdout.is_empty());
    assert!(
        home.snapshot().is_empty(),
        "the demo writes nothing in the config directory"
    );
}

// ---- Bad input: one line, a documented exit code, nothing written or overwritten ----

#[tokio::test]
async fn unknown_provider_missing_client_id_and_missing_provider_are_usage_errors() {
    let home = Home::new("usage");
    let unknown = home
        .run(&["login", "--provider", "github", "--client-id", "x"])
        .await;
    let message = unknown.fails_with_one_line(2);
    assert!(message.contains("unknown provider"), "{message}");
    assert!(
        message.contains("polar-sh, polar-sh-sandbox, polar-accesslink"),
        "{message}"
    );
    assert!(message.contains("--issuer"), "{message}");

    let missing = home.run(&["login", "--issuer", "https://op.example"]).await;
    let message = missing.fails_with_one_line(2);
    assert!(
        message.contains("--client-id") && message.contains("GRANTKIT_CLIENT_ID"),
        "{message}"
    );

    let neither = home.run(&["login", "--client-id", "x"]).await;
    assert!(neither.fails_with_one_line(2).contains("--issuer URL"));

    let flag = home.run(&["token", "--bogus"]).await;
    assert!(flag.fails_with_one_line(2).contains("--bogus"));

    let not_logged_in = home.run(&["token"]).await;
    let message = not_logged_in.fails_with_one_line(3);
    assert!(message.contains("run `grantkit login` first"), "{message}");
    assert!(!home.config().exists(), "nothing was written");
}

#[tokio::test]
async fn a_redirect_port_in_use_is_refused_before_anything_happens() {
    let home = Home::new("port");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let run = home
        .run(&[
            "login",
            "--issuer",
            "http://127.0.0.1:1",
            "--client-id",
            "x",
            "--redirect-port",
            &port,
        ])
        .await;
    let message = run.fails_with_one_line(2);
    assert!(
        message.contains(&format!("port {port} on 127.0.0.1 is in use")),
        "{message}"
    );
    assert!(message.contains("--redirect-port"), "{message}");
    assert!(run.stdout.is_empty(), "no URL was printed");
    assert!(!home.config().exists());
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_network_error() {
    let home = Home::new("unreachable");
    let port = free_port().to_string();
    let issuer = format!("http://127.0.0.1:{port}");
    let run = home
        .run(&["login", "--issuer", &issuer, "--client-id", "x"])
        .await;
    let message = run.fails_with_one_line(4);
    assert!(
        message.contains(&format!("could not reach the provider at {issuer}")),
        "{message}"
    );
    assert!(
        message.contains("check the URL and your network"),
        "{message}"
    );
    assert!(!home.config().exists());
}

/// A previous login's files, to prove a failed login leaves them alone.
fn previous_login(home: &Home) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    std::fs::create_dir_all(home.config()).unwrap();
    for path in [home.token_file("default"), home.meta_file("default")] {
        grantkit_testkit_write(&path, b"{\"previous\": \"login\"}\n");
    }
    home.snapshot()
}

fn grantkit_testkit_write(path: &std::path::Path, bytes: &[u8]) {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).unwrap().write_all(bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_state_callback_is_refused_and_the_login_keeps_waiting_for_the_real_one() {
    let Some(peer) = OidcPeer::start_or_skip("cli wrong state") else {
        return;
    };
    let home = Home::new("wrong-state");
    let mut login = home
        .login(
            &["--issuer", peer.issuer(), "--client-id", "public-client"],
            &[],
        )
        .await;
    let real = login.approve().await;
    let forged = real.replace(&login.state(), "forged-state");
    assert_ne!(forged, real);
    let (status, page) = deliver(&forged).await;
    assert_eq!(status, 400);
    assert!(
        page.contains("does not belong to the login in progress"),
        "{page}"
    );
    // Neither a missing state nor another path ends it.
    assert_eq!(
        deliver(&format!("{}?code=x", login.redirect_uri())).await.0,
        400
    );
    let root = login.redirect_uri().replace("/callback", "/");
    assert_eq!(deliver(&root).await.0, 404);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(login.running(), "a forged callback must not end the login");
    assert!(!home.config().exists(), "nothing written");

    assert_eq!(deliver(&real).await.0, 200);
    let done = login.finish().await;
    done.ok();
    assert!(
        done.stderr
            .contains("ignored a callback whose `state` does not match"),
        "{}",
        done.stderr
    );
    assert!(home.token_file("default").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_wrong_state_callbacks_end_in_a_timeout_that_writes_nothing() {
    let fake = FakePolarSh::start().await.unwrap();
    let port = free_port();
    let (client_id, _) = polar_client(&fake, port, grantkit::AuthMethod::None).await;
    let home = Home::new("timeout");
    let before = previous_login(&home);
    let api = fake.api_base();
    let port_text = port.to_string();
    let login = home
        .login(
            &[
                "--provider",
                "polar-sh",
                "--polar-api-base",
                &api,
                "--client-id",
                &client_id,
                "--redirect-port",
                &port_text,
                "--timeout",
                "2s",
            ],
            &[],
        )
        .await;
    let real = login.approve().await;
    assert_eq!(deliver(&real.replace(&login.state(), "stale")).await.0, 400);
    let done = login.finish().await;
    let message = done.fails(5);
    assert!(message.contains("no login came back"), "{message}");
    assert!(message.contains("--timeout"), "{message}");
    assert_eq!(home.snapshot(), before, "the previous login is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_consent_ends_the_login_with_access_denied_and_writes_nothing() {
    let fake = FakePolarSh::start().await.unwrap();
    fake.set_consent(Consent::Deny);
    let port = free_port();
    let (client_id, _) = polar_client(&fake, port, grantkit::AuthMethod::None).await;
    let home = Home::new("denied");
    let before = previous_login(&home);
    let api = fake.api_base();
    let port_text = port.to_string();
    let login = home
        .login(
            &[
                "--provider",
                "polar-sh",
                "--polar-api-base",
                &api,
                "--client-id",
                &client_id,
                "--redirect-port",
                &port_text,
            ],
            &[],
        )
        .await;
    let callback = login.approve().await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let (status, page) = deliver(&callback).await;
    assert_eq!(status, 400);
    assert!(page.contains("access_denied"), "{page}");
    let done = login.finish().await;
    let message = done.fails(5);
    assert!(message.contains("access_denied"), "{message}");
    assert!(message.contains("approve the request"), "{message}");
    assert_eq!(home.snapshot(), before);
}

/// Profile metadata pointing at a provider that is not there: the commands must fail on the
/// token file before any request.
fn profile_metadata(home: &Home) {
    let meta = serde_json::json!({
        "version": 2,
        "selected": {"kind": "issuer", "issuer": "http://127.0.0.1:1"},
        "provider": {
            "name": "nowhere",
            "issuer": "http://127.0.0.1:1",
            "token_endpoint": "http://127.0.0.1:1/token",
            "revocation_endpoint": "http://127.0.0.1:1/revoke"
        },
        "client_id": "c",
        "auth_method": "none",
        "scopes": ["openid"],
        "redirect_uri": "http://127.0.0.1:8976/callback",
        "logged_in_at": 0
    });
    std::fs::create_dir_all(home.config()).unwrap();
    grantkit_testkit_write(&home.meta_file("default"), meta.to_string().as_bytes());
}

#[tokio::test]
async fn a_corrupt_or_readable_token_file_is_refused_in_one_line_and_left_alone() {
    let home = Home::new("corrupt");
    profile_metadata(&home);
    let tokens = home.token_file("default");
    grantkit_testkit_write(&tokens, b"{\"access_token\": \"at\", trunc");
    let before = home.snapshot();
    for command in [
        "token",
        "refresh",
        "status",
        "userinfo",
        "introspect",
        "revoke",
    ] {
        let run = home.run(&[command]).await;
        let message = run.fails_with_one_line(1);
        assert!(
            message.contains("does not hold a readable token set"),
            "{command}: {message}"
        );
        assert!(
            message.contains("delete it and authorize again"),
            "{command}: {message}"
        );
        assert!(!message.contains("\"at\""), "{message}");
        assert_eq!(home.snapshot(), before, "{command} changed the files");
    }

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        grantkit_testkit_write(&tokens, br#"{"access_token":"at","token_type":"Bearer"}"#);
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o644)).unwrap();
        let message = home.run(&["token"]).await.fails_with_one_line(1);
        assert!(message.contains("chmod 600"), "{message}");
    }
}

async fn accesslink_login(home: &Home, fake: &FakeAccessLink, port: u16, extra: &[&str]) -> Run {
    let base = fake.base_url();
    let port_text = port.to_string();
    let mut args = vec![
        "--provider",
        "polar-accesslink",
        "--accesslink-base",
        &base,
        "--client-id",
        ACCESSLINK_CLIENT_ID,
        "--redirect-port",
        &port_text,
    ];
    args.extend_from_slice(extra);
    let login = home
        .login(
            &args,
            &[("GRANTKIT_CLIENT_SECRET", ACCESSLINK_CLIENT_SECRET)],
        )
        .await;
    let url = url::Url::parse(&login.url).unwrap();
    assert!(
        !url.query_pairs()
            .any(|(k, _)| k == "code_challenge" || k == "nonce"),
        "AccessLink gets no PKCE and no nonce: {url}"
    );
    let callback = login.approve().await;
    assert_eq!(deliver(&callback).await.0, 200);
    login.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polar_accesslink_links_registers_and_revoke_deregisters() {
    let fake = FakeAccessLink::start().await.unwrap();
    let port = free_port();
    fake.add_redirect_uri(format!("http://127.0.0.1:{port}/callback"));
    let home = Home::new("accesslink");
    let secret = [("GRANTKIT_CLIENT_SECRET", ACCESSLINK_CLIENT_SECRET)];

    let login = accesslink_login(&home, &fake, port, &["--member-id", "member-1", "--json"]).await;
    login.ok();
    assert!(
        login.stderr.contains("with member-id member-1"),
        "{}",
        login.stderr
    );
    assert_eq!(json(&login.stdout)["accesslink"]["user_id"], 10579);
    assert_eq!(
        fake.registered_member_id(10579).as_deref(),
        Some("member-1")
    );
    let meta = json(&std::fs::read_to_string(home.meta_file("default")).unwrap());
    assert_eq!(meta["selected"]["kind"], "polar-accesslink");
    assert_eq!(meta["accesslink"]["user_id"], 10579);
    assert_eq!(meta["auth_method"], "client_secret_basic");
    assert_eq!(mode(&home.token_file("default")), 0o600);

    // A fresh token needs no secret; AccessLink has no refresh token: refresh says to log in again.
    let token = home.run(&["token"]).await.ok().trim().to_owned();
    assert!(fake.is_token_active(&token));
    let refresh = home
        .run_env(&["refresh"], &secret)
        .await
        .fails_with_one_line(3);
    assert!(
        refresh.contains("grantkit login --provider polar-accesslink"),
        "{refresh}"
    );
    let user = json(home.run_env(&["userinfo"], &secret).await.ok());
    assert_eq!(user["polar-user-id"], 10579);
    assert_eq!(user["member-id"], "member-1");
    let status = home.run(&["status"]).await;
    status.ok();
    assert!(
        status
            .stdout
            .contains("Polar user 10579, registered with member-id member-1"),
        "{}",
        status.stdout
    );

    // revoke = deregistration, which revokes the token.
    let revoke = home.run_env(&["revoke"], &secret).await;
    revoke.ok();
    assert!(revoke.stderr.contains("deregistered"), "{}", revoke.stderr);
    assert!(!fake.is_token_active(&token));
    assert_eq!(fake.registered_member_id(10579), None);
    assert!(home.snapshot().is_empty());

    // Without --member-id a unique one is generated; with --no-register nothing is registered.
    accesslink_login(&home, &fake, port, &[]).await.ok();
    let meta = json(&std::fs::read_to_string(home.meta_file("default")).unwrap());
    let generated = meta["accesslink"]["member_id"].as_str().unwrap().to_owned();
    assert_eq!(
        fake.registered_member_id(10579).as_deref(),
        Some(generated.as_str())
    );
    home.run_env(&["revoke"], &secret).await.ok();
    let linked = accesslink_login(&home, &fake, port, &["--no-register"]).await;
    linked.ok();
    assert!(
        linked.stderr.contains("without registering"),
        "{}",
        linked.stderr
    );
    assert_eq!(fake.registered_member_id(10579), None);
}

#[tokio::test]
async fn accesslink_flags_are_checked_before_anything_happens() {
    let home = Home::new("accesslink-flags");
    let both = home
        .run(&[
            "login",
            "--provider",
            "polar-accesslink",
            "--client-id",
            "c",
            "--member-id",
            "m",
            "--no-register",
        ])
        .await;
    assert!(both.fails_with_one_line(2).contains("contradict"));
    let elsewhere = home
        .run(&[
            "login",
            "--issuer",
            "https://op.example",
            "--client-id",
            "c",
            "--member-id",
            "m",
        ])
        .await;
    assert!(elsewhere
        .fails_with_one_line(2)
        .contains("only apply to --provider polar-accesslink"));
    let no_secret = home
        .run(&[
            "login",
            "--provider",
            "polar-accesslink",
            "--client-id",
            "c",
            "--accesslink-base",
            "http://127.0.0.1:1",
        ])
        .await;
    let message = no_secret.fails_with_one_line(2);
    assert!(
        message.contains("client secret") || message.contains("GRANTKIT_CLIENT_SECRET"),
        "{message}"
    );
    assert!(!home.config().exists());
}

/// Starts `grantkit login --device` at the peer and returns the running login and its user code
/// (read from the printed `verification_uri_complete`).
async fn device_login(home: &Home, peer: &OidcPeer) -> (Login, String) {
    let login = home
        .login(
            &[
                "--device",
                "--issuer",
                peer.issuer(),
                "--client-id",
                "device-client",
                "--json",
            ],
            &[],
        )
        .await;
    let url = url::Url::parse(&login.url).unwrap();
    assert_eq!(url.path(), "/device", "{url}");
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "user_code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no user_code in {url}"));
    (login, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_login_on_a_machine_without_a_browser_then_token_and_refresh() {
    // interval 1 s, and `slow_down` for faster polls.
    let Some(peer) =
        OidcPeer::start_with_env_or_skip("cli device login", &[("PEER_DEVICE_INTERVAL", "1")])
    else {
        return;
    };
    let home = Home::new("peer-device");
    let (login, code) = device_login(&home, &peer).await;
    peer.approve_device(&code).await.unwrap();
    let run = login.finish().await;
    run.ok();
    assert!(
        run.stderr.contains(&code),
        "the code is shown: {}",
        run.stderr
    );
    assert!(run.stderr.contains("Logged in to"), "{}", run.stderr);
    let summary = json(&run.stdout);
    assert_eq!(summary["subject"], "alice");
    assert_eq!(summary["refresh_token"], true);
    let meta = json(&std::fs::read_to_string(home.meta_file("default")).unwrap());
    assert_eq!(meta["device"], true);
    assert_eq!(meta["redirect_uri"], "");
    assert_eq!(mode(&home.token_file("default")), 0o600);

    let first = stored(&home.token_file("default"));
    let token = home.run(&["token"]).await;
    assert_eq!(token.ok().trim(), first["access_token"].as_str().unwrap());
    home.run(&["refresh"]).await.ok();
    assert_ne!(
        stored(&home.token_file("default"))["access_token"],
        first["access_token"]
    );
    let info = json(home.run(&["userinfo"]).await.ok());
    assert_eq!(info["sub"], "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_device_login_exits_5_and_browser_only_flags_are_refused() {
    let Some(peer) =
        OidcPeer::start_with_env_or_skip("cli device deny", &[("PEER_DEVICE_INTERVAL", "1")])
    else {
        return;
    };
    let home = Home::new("peer-device-deny");
    let (login, code) = device_login(&home, &peer).await;
    peer.deny_device(&code).await.unwrap();
    let run = login.finish().await;
    let message = run.fails(5);
    assert!(message.contains("declined"), "{message}");
    assert!(message.contains("grantkit login --device"), "{message}");
    assert!(!home.token_file("default").exists(), "nothing written");

    let run = home
        .run(&[
            "login",
            "--device",
            "--issuer",
            peer.issuer(),
            "--client-id",
            "device-client",
            "--redirect-port",
            "8976",
        ])
        .await;
    assert!(run.fails_with_one_line(2).contains("--redirect-port"));
}

/// A loopback listener standing for an attacker's host: it counts the connections it gets
/// and closes them without answering.
async fn attacker_listener() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, hits)
}

/// A profile whose provider is `issuer` with its token endpoint at `token_endpoint`, and a
/// token file holding an expired access token and a refresh token.
fn planted_profile(home: &Home, issuer: &str, token_endpoint: &str) {
    let meta = serde_json::json!({
        "version": 2,
        "selected": {"kind": "issuer", "issuer": issuer},
        "provider": {
            "name": "planted",
            "issuer": issuer,
            "token_endpoint": token_endpoint
        },
        "client_id": "c",
        "auth_method": "client_secret_post",
        "scopes": ["openid"],
        "redirect_uri": "http://127.0.0.1:8976/callback",
        "logged_in_at": 0
    });
    std::fs::create_dir_all(home.config()).unwrap();
    grantkit_testkit_write(&home.meta_file("default"), meta.to_string().as_bytes());
    grantkit_testkit_write(
        &home.token_file("default"),
        br#"{"access_token":"at","token_type":"Bearer","expires_at":1,"refresh_token":"rt"}"#,
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_or_exposed_profile_file_is_refused_before_any_request() {
    use std::os::unix::fs::PermissionsExt;
    let (port, hits) = attacker_listener().await;
    let issuer = format!("http://127.0.0.1:{port}");
    let env = [("GRANTKIT_CLIENT_SECRET", "the-client-secret")];
    let refused = |home: &Home, run: Run, what: &str| {
        let message = run.fails_with_one_line(1);
        let meta = home.meta_file("default");
        assert!(
            message.contains(&meta.display().to_string()),
            "names the file: {message}"
        );
        assert!(message.contains(what), "{message}");
        assert!(message.contains("grantkit login"), "{message}");
    };

    // Readable by others.
    let home = Home::new("profile-mode");
    planted_profile(&home, &issuer, &format!("{issuer}/token"));
    let meta = home.meta_file("default");
    std::fs::set_permissions(&meta, std::fs::Permissions::from_mode(0o644)).unwrap();
    refused(&home, home.run_env(&["refresh"], &env).await, "chmod 600");

    // Planted by another user (tests run as root, who may chown).
    let home = Home::new("profile-owner");
    planted_profile(&home, &issuer, &format!("{issuer}/token"));
    let meta = home.meta_file("default");
    // Planting a file for another user needs root (CI runs as root: there it must run).
    let planted = std::os::unix::fs::chown(&meta, Some(65534), Some(65534));
    if let Err(e) = &planted {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "chown: {e}");
        eprintln!("SKIPPED (the other-user case): planting a file needs root ({e})");
    }
    if planted.is_ok() {
        refused(
            &home,
            home.run_env(&["refresh"], &env).await,
            "owned by uid 65534",
        );
    }

    // A symbolic link to a file elsewhere.
    let home = Home::new("profile-link");
    planted_profile(&home, &issuer, &format!("{issuer}/token"));
    let meta = home.meta_file("default");
    let elsewhere = home.dir.join("elsewhere.json");
    std::fs::rename(&meta, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &meta).unwrap();
    refused(
        &home,
        home.run_env(&["refresh"], &env).await,
        "symbolic link",
    );

    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no request left for the planted endpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_redirecting_the_refresh_to_an_internal_http_endpoint_is_refused() {
    // The profile claims a public https issuer but sends the refresh token and the client
    // secret in clear to a listener on this machine: the discovery policy refuses that shape.
    let (port, hits) = attacker_listener().await;
    let home = Home::new("profile-endpoint");
    planted_profile(
        &home,
        "https://op.example",
        &format!("http://127.0.0.1:{port}/token"),
    );
    let env = [("GRANTKIT_CLIENT_SECRET", "the-client-secret")];
    let message = home
        .run_env(&["refresh"], &env)
        .await
        .fails_with_one_line(1);
    assert!(message.contains("token_endpoint"), "{message}");
    assert!(
        message.contains(&home.meta_file("default").display().to_string()),
        "{message}"
    );
    assert!(message.contains("grantkit login"), "{message}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// What a hostile provider puts in the strings the CLI shows: an OSC 52 clipboard write, a
/// screen clear, a C1 CSI and a right-to-left override.
const HOSTILE: &str = "\x1b]52;c;ZWNobyBwd25lZA==\x07Mallory\x1b[2J\u{9b}2J\u{202e}";

fn assert_terminal_safe(what: &str, text: &str) {
    for c in ['\x1b', '\x07', '\u{9b}', '\u{202e}'] {
        assert!(!text.contains(c), "{what} contains {c:?}: {text:?}");
    }
}

/// A provider with a device endpoint, whose every shown string carries terminal escapes.
async fn hostile_provider() -> grantkit_testkit::TestServer {
    use axum::routing::{get, post};
    use axum::Json;
    use serde_json::json;
    let base = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let b = base.clone();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let base = b.get().cloned().unwrap_or_default();
                async move {
                    Json(json!({
                        "issuer": base,
                        "authorization_endpoint": format!("{base}/authorize"),
                        "token_endpoint": format!("{base}/token"),
                        "device_authorization_endpoint": format!("{base}/device_authorization"),
                        "userinfo_endpoint": format!("{base}/userinfo"),
                        "token_endpoint_auth_methods_supported": ["none"],
                    }))
                }
            }),
        )
        .route(
            "/device_authorization",
            post({
                let base = base.clone();
                move || {
                    let base = base.get().cloned().unwrap_or_default();
                    async move {
                        Json(json!({
                            "device_code": "dc",
                            "user_code": format!("AB{HOSTILE}CD"),
                            "verification_uri": format!("{base}/device{HOSTILE}"),
                            "expires_in": 600,
                            "interval": 1,
                        }))
                    }
                }
            }),
        )
        .route(
            "/token",
            post(|| async {
                Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 3600}))
            }),
        )
        .route(
            "/userinfo",
            get(|| async {
                Json(json!({"sub": "mallory", "name": HOSTILE, "email": format!("m{HOSTILE}@example.test")}))
            }),
        );
    let server = grantkit_testkit::TestServer::start(app).await.unwrap();
    base.set(server.base_url()).unwrap();
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_escapes_in_provider_text_are_not_printed() {
    let provider = hostile_provider().await;
    let issuer = provider.base_url();
    let home = Home::new("hostile-text");
    let login = home
        .login(
            &[
                "--device",
                "--issuer",
                &issuer,
                "--client-id",
                "c",
                "--scope",
                "profile",
            ],
            &[],
        )
        .await;
    assert_terminal_safe("the printed URL", &login.url);
    let done = login.finish().await;
    done.ok();
    assert_terminal_safe("login's stdout", &done.stdout);
    assert_terminal_safe("login's stderr", &done.stderr);
    assert!(done.stderr.contains("Mallory"), "{}", done.stderr);

    let status = home.run(&["status"]).await;
    status.ok();
    assert_terminal_safe("status", &status.stdout);
    assert!(status.stdout.contains("Mallory"), "{}", status.stdout);

    // JSON stays the same data: the characters are escaped, not dropped.
    let info = home.run(&["userinfo"]).await;
    assert_terminal_safe("userinfo", info.ok());
    assert_eq!(json(&info.stdout)["name"], HOSTILE);
}

/// Splits a command printed for a POSIX shell, as the shell does.
fn shell_words(command: &str) -> Vec<String> {
    shlex::split(command).unwrap_or_else(|| panic!("not shell words: {command}"))
}

/// Revokes `token` at the peer as `post-client` would.
async fn revoke_at_peer(peer: &OidcPeer, form: &[(&str, &str)]) {
    let status = reqwest::Client::new()
        .post(peer.url("/token/revocation"))
        .form(form)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relogin_advice_after_invalid_grant_reproduces_the_login_with_its_auth_method() {
    let Some(peer) = OidcPeer::start_or_skip("cli relogin advice") else {
        return;
    };
    let home = Home::new("relogin");
    let env = [("GRANTKIT_CLIENT_SECRET", "post-secret-123")];
    let args = [
        "--client-id",
        "post-client",
        "--auth-method",
        "client_secret_post",
        "--scope",
        "openid email",
        "--profile",
        "work",
    ];
    peer_login(&home, &peer, &args, &env).await.ok();
    let refresh = stored(&home.token_file("work"))["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = [
        ("client_id", "post-client"),
        ("client_secret", "post-secret-123"),
        ("token", refresh.as_str()),
    ];
    revoke_at_peer(&peer, &form).await;

    let message = home
        .run_env(&["refresh", "--profile", "work"], &env)
        .await
        .fails_with_one_line(3);
    let command = message
        .split('`')
        .find(|part| part.starts_with("grantkit login"))
        .unwrap_or_else(|| panic!("no command in {message}"));
    let words = shell_words(command);
    assert_eq!(words[..2], ["grantkit", "login"], "{command}");
    for flag in [
        ["--auth-method", "client_secret_post"],
        ["--client-id", "post-client"],
        ["--scope", "openid email"],
        ["--issuer", peer.issuer()],
        ["--profile", "work"],
    ] {
        assert!(
            words.windows(2).any(|w| w == flag),
            "{flag:?} missing from {command}"
        );
    }
    // Run as printed (the secret from the environment, as before): it logs in again.
    let printed: Vec<&str> = words[2..].iter().map(String::as_str).collect();
    let login = home.login(&printed, &env).await;
    let callback = login.approve().await;
    assert_eq!(deliver(&callback).await.0, 200);
    login.finish().await.ok();
    home.run_env(&["refresh", "--profile", "work"], &env)
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_client_at_confidential_only_revocation_is_refused_before_sending_and_told_local_only(
) {
    let env = [("PEER_CONFIDENTIAL_ENDPOINTS", "1")];
    let Some(peer) = OidcPeer::start_with_env_or_skip("cli confidential endpoints", &env) else {
        return;
    };
    let home = Home::new("confidential-endpoints");
    peer_login(&home, &peer, &["--client-id", "public-client"], &[])
        .await
        .ok();
    let access = stored(&home.token_file("default"))["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = home.snapshot();
    let message = home.run(&["revoke"]).await.fails_with_one_line(2);
    assert!(message.contains("--local-only"), "{message}");
    assert!(message.contains("public"), "{message}");
    assert_eq!(home.snapshot(), before, "nothing deleted");
    assert_eq!(
        bearer_status(&peer.url("/me"), &access).await,
        200,
        "nothing was revoked"
    );
    let message = home.run(&["introspect"]).await.fails_with_one_line(2);
    assert!(message.contains("introspection"), "{message}");
    home.run(&["revoke", "--local-only"]).await.ok();
    assert!(home.snapshot().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exact_redirect_uri_provider_login_names_the_uri_to_register_and_redirect_port() {
    let Some(peer) = OidcPeer::start_or_skip("cli exact redirect uri") else {
        return;
    };
    let home = Home::new("exact-redirect");
    let mut login = home
        .login(
            &[
                "--issuer",
                peer.issuer(),
                "--client-id",
                "exact-redirect-client",
                "--timeout",
                "3s",
            ],
            &[],
        )
        .await;
    let redirect = login.redirect_uri();
    // The provider compares the URI exactly: its error page, no redirect back.
    assert!(grantkit_testkit::Browser::new()
        .authorize(&login.url, &redirect)
        .await
        .is_err());
    assert!(login.running());
    let done = login.finish().await;
    // Said before the wait, with the port: the URI the provider must have registered.
    let waiting = done
        .stderr
        .lines()
        .position(|l| l.contains(&format!("registered: {redirect}")))
        .unwrap_or_else(|| panic!("no redirect URI to register in {}", done.stderr));
    assert!(waiting < done.stderr.lines().count() - 1, "{}", done.stderr);
    let message = done.fails(5);
    assert!(message.contains("--redirect-port"), "{message}");
    assert!(message.contains(&redirect), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_login_page_says_failed_and_names_auth_method_and_supported_methods() {
    let Some(peer) = OidcPeer::start_or_skip("cli wrong secret") else {
        return;
    };
    let home = Home::new("wrong-secret");
    let env = [("GRANTKIT_CLIENT_SECRET", "not-the-secret")];
    let login = home
        .login(
            &[
                "--issuer",
                peer.issuer(),
                "--client-id",
                "post-client",
                "--auth-method",
                "client_secret_post",
            ],
            &env,
        )
        .await;
    let callback = login.approve().await;
    let (status, page) = deliver(&callback).await;
    assert_ne!(status, 200, "{page}");
    assert!(page.contains("failed"), "{page}");
    assert!(!page.contains("Logged in"), "{page}");
    let message = login.finish().await.fails(1);
    assert!(message.contains("invalid_client"), "{message}");
    assert!(message.contains("--auth-method"), "{message}");
    assert!(message.contains("client_secret_basic"), "{message}");
    assert!(home.snapshot().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_with_a_trailing_slash_is_named_and_expected_issuer_accepts_it() {
    let Some(peer) = OidcPeer::start_or_skip("cli trailing slash") else {
        return;
    };
    let home = Home::new("trailing-slash");
    let slashed = format!("{}/", peer.issuer());
    let message = home
        .run(&[
            "login",
            "--no-browser",
            "--issuer",
            &slashed,
            "--client-id",
            "public-client",
        ])
        .await
        .fails_with_one_line(1);
    assert!(message.contains("trailing slash"), "{message}");
    assert!(message.contains("pass --issuer"), "{message}");
    assert!(message.contains(peer.issuer()), "{message}");
    let login = home
        .login(
            &[
                "--issuer",
                &slashed,
                "--expected-issuer",
                peer.issuer(),
                "--client-id",
                "public-client",
            ],
            &[],
        )
        .await;
    let callback = login.approve().await;
    assert_eq!(deliver(&callback).await.0, 200);
    login.finish().await.ok();
    home.run(&["refresh"]).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_writes_to_stdout_and_status_check_sees_a_token_revoked_at_the_provider() {
    let Some(peer) = OidcPeer::start_or_skip("cli status check") else {
        return;
    };
    let home = Home::new("status-check");
    peer_login(&home, &peer, &["--client-id", "public-client"], &[])
        .await
        .ok();
    let status = home.run(&["status"]).await;
    assert!(status.ok().contains("alice"), "{status:?}");
    assert!(status.stdout.contains("valid, expires in"), "{status:?}");
    let checked = home.run(&["status", "--check"]).await;
    assert!(
        checked.ok().contains("active at the provider"),
        "{checked:?}"
    );

    let refresh = stored(&home.token_file("default"))["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = [("client_id", "public-client"), ("token", refresh.as_str())];
    revoke_at_peer(&peer, &form).await;
    // Locally nothing changed; the provider says otherwise.
    home.run(&["status"]).await.ok();
    let revoked = home.run(&["status", "--check"]).await;
    let message = revoked.fails(3);
    assert!(revoked.stdout.contains("not active"), "{revoked:?}");
    assert!(message.contains("grantkit login"), "{message}");
}
