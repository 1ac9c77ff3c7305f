//! The profile holds the provider whole: a login against the fake AccessLink is saved, read
//! back by the CLI and by grantkit, and still behaves as the preset (`x_user_id` required,
//! HTTP Basic only, no PKCE, no refresh token); a hand-edited profile with a bad value is
//! refused, naming the file and the member.

mod support;

use grantkit::{Client, Provider};
use grantkit_testkit::{Browser, FakeAccessLink, ACCESSLINK_CLIENT_ID, ACCESSLINK_CLIENT_SECRET};
use support::*;

const SECRET: [(&str, &str); 1] = [("GRANTKIT_CLIENT_SECRET", ACCESSLINK_CLIENT_SECRET)];

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn saved_profile(home: &Home) -> serde_json::Value {
    json(&std::fs::read_to_string(home.meta_file("default")).unwrap())
}

/// Writes a profile file as grantkit does (0600), replacing the saved one.
fn write_profile(home: &Home, profile: &serde_json::Value) {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(home.meta_file("default")).unwrap();
    file.write_all(profile.to_string().as_bytes()).unwrap();
}

/// `grantkit login --provider polar-accesslink` against the fake, without registration.
async fn accesslink_login(home: &Home, fake: &FakeAccessLink, redirect_port: u16) {
    let base = fake.base_url();
    let port = redirect_port.to_string();
    let args = [
        "--provider",
        "polar-accesslink",
        "--accesslink-base",
        &base,
        "--client-id",
        ACCESSLINK_CLIENT_ID,
        "--redirect-port",
        &port,
        "--no-register",
    ];
    let login = home.login(&args, &SECRET).await;
    let callback = login.approve().await;
    assert_eq!(deliver(&callback).await.0, 200);
    login.finish().await.ok();
}

/// The fake's recorded requests since `tokens_before` token requests: every one Basic, none
/// with credentials or a PKCE verifier in the body.
fn assert_basic_only_without_pkce(fake: &FakeAccessLink, tokens_before: usize) {
    let sent = fake.token_requests();
    assert!(sent.len() > tokens_before, "a token request was made");
    for request in &sent[tokens_before..] {
        assert!(request.basic_auth, "{request:?}");
        assert!(!request.credentials_in_body, "{request:?}");
        assert!(
            !request.params.iter().any(|p| p == "code_verifier"),
            "{request:?}"
        );
        assert_eq!(request.status, 200, "{request:?}");
    }
    for authorization in fake.authorizations() {
        assert_eq!(authorization.param("code_challenge"), None);
        assert_eq!(authorization.param("code_challenge_method"), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_accesslink_profile_reads_x_user_id_sends_basic_only_and_no_pkce() {
    let fake = FakeAccessLink::start().await.unwrap();
    let port = free_port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    fake.add_redirect_uri(redirect_uri.clone());
    let home = Home::new("reloaded-accesslink");
    accesslink_login(&home, &fake, port).await;
    assert_basic_only_without_pkce(&fake, 0);

    // The profile holds the preset's provider, its AccessLink quirks included.
    let saved = saved_profile(&home);
    let provider = &saved["provider"];
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["selected"]["kind"], "polar-accesslink");
    assert_eq!(provider["name"], "polar-accesslink");
    assert_eq!(
        provider["auth_methods"],
        serde_json::json!(["client_secret_basic"])
    );
    assert_eq!(provider["quirks"]["pkce"], false);
    assert_eq!(provider["quirks"]["refresh_tokens"], false);
    assert_eq!(
        provider["quirks"]["token_fields"],
        serde_json::json!([{"name": "x_user_id", "kind": "integer", "required": true}])
    );
    assert_eq!(
        provider,
        &serde_json::to_value(
            grantkit_polar_accesslink::Endpoints::at(&fake.base_url())
                .provider()
                .unwrap()
        )
        .unwrap(),
        "the preset, whole"
    );

    // The CLI reads it back: the token is there, and no refresh is attempted (no refresh
    // tokens at AccessLink), so the token endpoint is not called.
    let token = home.run(&["token"]).await.ok().trim().to_owned();
    assert!(fake.is_token_active(&token));
    let requests = fake.token_requests().len();
    let refresh = home
        .run_env(&["refresh"], &SECRET)
        .await
        .fails_with_one_line(3);
    assert!(
        refresh.contains("grantkit login --provider polar-accesslink"),
        "{refresh}"
    );
    assert_eq!(fake.token_requests().len(), requests);

    // The provider read back from the profile links again exactly as the preset does.
    let reloaded: Provider = serde_json::from_value(provider.clone()).unwrap();
    let client = Client::builder(reloaded, ACCESSLINK_CLIENT_ID)
        .client_secret(ACCESSLINK_CLIENT_SECRET)
        .redirect_uri(redirect_uri.clone())
        .build()
        .unwrap();
    let (url, pending) = client.authorize().build().unwrap();
    let callback = Browser::new()
        .authorize(url.as_str(), &redirect_uri)
        .await
        .unwrap();
    let code = pending.verify_callback(&callback).unwrap();
    let tokens = client.exchange_code(code).await.unwrap();
    assert_eq!(tokens.extra_u64("x_user_id"), Some(10579));
    assert_basic_only_without_pkce(&fake, requests);
}

/// Logs in, edits the saved profile with `edit`, and returns the one-line error of `token`.
async fn refused_after(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> (Home, String) {
    let fake = FakeAccessLink::start().await.unwrap();
    let port = free_port();
    fake.add_redirect_uri(format!("http://127.0.0.1:{port}/callback"));
    let home = Home::new(name);
    accesslink_login(&home, &fake, port).await;
    let mut profile = saved_profile(&home);
    edit(&mut profile);
    write_profile(&home, &profile);
    let message = home.run(&["token"]).await.fails_with_one_line(1);
    let file = home.meta_file("default").display().to_string();
    assert!(message.contains(&file), "names the file: {message}");
    assert!(message.contains("grantkit login"), "{message}");
    (home, message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_auth_method_in_a_profile_is_refused_naming_the_file_and_member() {
    let (_home, message) = refused_after("typo-auth-method", |p| {
        p["auth_method"] = "client_secret_basci".into();
    })
    .await;
    assert!(message.contains("member `auth_method`"), "{message}");
    assert!(message.contains("client_secret_basci"), "{message}");
    let (_home, message) = refused_after("typo-provider-auth-method", |p| {
        p["provider"]["auth_methods"] = serde_json::json!(["Basic"]);
    })
    .await;
    assert!(
        message.contains("member `provider.auth_methods[0]`"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_public_endpoint_in_a_profile_is_refused_naming_the_file_and_member() {
    let (_home, message) = refused_after("http-endpoint", |p| {
        p["provider"]["token_endpoint"] = "http://polarremote.com/v2/oauth2/token".into();
    })
    .await;
    assert!(message.contains("member `provider`"), "{message}");
    assert!(message.contains("token_endpoint"), "{message}");
    assert!(message.contains("plain http"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_of_the_previous_format_says_to_log_in_again() {
    let (home, message) = {
        let fake = FakeAccessLink::start().await.unwrap();
        let port = free_port();
        fake.add_redirect_uri(format!("http://127.0.0.1:{port}/callback"));
        let home = Home::new("format-1");
        accesslink_login(&home, &fake, port).await;
        let mut profile = saved_profile(&home);
        // The format 1 shape: the selection under `provider`, a partial copy in `endpoints`.
        profile["version"] = 1.into();
        profile["endpoints"] = serde_json::json!({"name": "polar-accesslink"});
        let selected = profile.as_object_mut().unwrap().remove("selected").unwrap();
        profile["provider"] = selected;
        write_profile(&home, &profile);
        let message = home.run(&["token"]).await.fails_with_one_line(1);
        (home, message)
    };
    assert!(message.contains("format 1"), "{message}");
    assert!(
        message.contains("grantkit login --provider polar-accesslink --accesslink-base"),
        "{message}"
    );
    assert!(message.contains(ACCESSLINK_CLIENT_ID), "{message}");
    assert!(
        message.contains("grantkit revoke --local-only"),
        "{message}"
    );
    // As it says: forgetting it works without reading the old provider.
    home.run(&["revoke", "--local-only"]).await.ok();
    assert!(home.snapshot().is_empty(), "{:?}", home.snapshot());
}
