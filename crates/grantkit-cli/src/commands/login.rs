//! `grantkit login`: the RFC 8252 loopback login.

use grantkit::{AuthMethod, Client, TokenSource};
use serde_json::json;
use std::io::Write;

use super::{identify, needs_secret, print_json, start_authorization, wait_for_callback, Ctx};
use crate::cli::LoginArgs;
use crate::error::{CliError, CliResult, Exit};
use crate::loopback::Loopback;
use crate::output::{relative, unix, unix_now};
use crate::profile::{Endpoints, Profile};
use crate::providers::Selected;

/// Runs `grantkit login`.
pub async fn run(ctx: &Ctx, args: LoginArgs) -> CliResult {
    let out = &ctx.out;
    // Everything that can be checked without the network first, and nothing written until the
    // tokens are in hand.
    let selected = Selected::from_flags(
        args.provider,
        args.issuer.as_deref(),
        args.polar_api_base.as_deref(),
        args.polar_web_base.as_deref(),
    )?;
    let client_id = args
        .client_id
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| {
            CliError::usage(
                "no client id: pass --client-id ID or set GRANTKIT_CLIENT_ID (the id of the app registered at the provider)",
            )
        })?;
    let method = match args.auth_method.as_deref() {
        None => None,
        Some(name) => Some(AuthMethod::from_name(name).ok_or_else(|| {
            CliError::usage(format!(
                "unknown --auth-method `{name}`: use client_secret_basic, client_secret_post or none"
            ))
        })?),
    };
    match (method, &ctx.secret) {
        (Some(m), None) if needs_secret(m) => return Err(super::missing_secret(&client_id, m)),
        (Some(AuthMethod::None), Some(_)) => {
            return Err(CliError::usage(
                "--auth-method none is a public client, but a client secret was given: drop it (unset GRANTKIT_CLIENT_SECRET)",
            ))
        }
        _ => {}
    }
    let params = args
        .params
        .iter()
        .map(|p| {
            p.split_once('=')
                .filter(|(name, _)| !name.is_empty())
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .ok_or_else(|| CliError::usage(format!("--param `{p}` must be NAME=VALUE")))
        })
        .collect::<CliResult<Vec<_>>>()?;

    let listener = Loopback::bind(args.redirect_port).await?;
    let redirect_uri = listener.redirect_uri();
    let provider = selected.discover().await.map_err(|e| {
        let mapped = CliError::from_grantkit(&e, "grantkit login");
        let message = if mapped.exit == Exit::Unavailable {
            format!(
                "could not reach the provider at {}: {e}; check the URL and your network, then retry",
                selected.location()
            )
        } else {
            format!("discovery at {} failed: {}", selected.location(), mapped.message())
        };
        CliError::new(mapped.exit, message)
    })?;
    let scopes: Vec<String> = match &args.scope {
        Some(scope) => scope.split_ascii_whitespace().map(str::to_owned).collect(),
        None => selected.default_scopes(&provider),
    };
    let mut builder = Client::builder(provider, client_id.clone())
        .redirect_uri(redirect_uri.clone())
        .scopes(scopes.clone());
    if let Some(method) = method {
        builder = builder.auth_method(method);
    }
    if let Some(secret) = &ctx.secret {
        builder = builder.client_secret(secret.clone());
    }
    let client = builder
        .build()
        .map_err(|e| CliError::from_grantkit(&e, "grantkit login"))?;

    let (url, pending) = start_authorization(&client, &listener, &scopes, &params)?;
    let name = client.provider().name().to_owned();
    out.line(&format!(
        "Logging in to {} with client {} ({}); waiting for the browser at {redirect_uri}",
        out.bold(&name),
        client_id,
        client.auth_method().as_str()
    ));
    let opened = !args.no_browser && open_browser(url.as_str());
    out.line(&if opened {
        "Opening this URL in your browser (open it yourself if nothing happens):".to_owned()
    } else {
        "Open this URL in a browser on this machine:".to_owned()
    });
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{url}");
        let _ = stdout.flush();
    }

    let code = wait_for_callback(out, listener, &pending, args.timeout).await?;
    let tokens = client
        .exchange_code(code)
        .await
        .map_err(|e| CliError::from_grantkit(&e, "grantkit login"))?;
    let identity = identify(&client, &tokens).await;

    let profile = Profile {
        version: 1,
        provider: selected.record(),
        endpoints: Endpoints::of(client.provider()),
        client_id,
        auth_method: client.auth_method().as_str().to_owned(),
        scopes,
        redirect_uri,
        redirect_port: (args.redirect_port != 0).then_some(args.redirect_port),
        identity,
        logged_in_at: unix_now(),
    };
    TokenSource::builder(client.clone())
        .store(ctx.paths.store())
        .tokens(tokens.clone())
        .build()
        .await
        .map_err(|e| CliError::from_grantkit(&e, "grantkit login"))?;
    profile.save(&ctx.paths)?;

    let expires = tokens.expires_at().map(unix);
    out.ok(&format!(
        "Logged in to {name} as {}",
        out.bold(&profile.identity.describe())
    ));
    out.line(&format!(
        "  tokens saved in {} (mode 600); access token expires {}; refresh token: {}",
        ctx.paths.tokens.display(),
        expires.map_or("never (as far as the provider said)".to_owned(), relative),
        if tokens.refresh_token().is_some() {
            "yes"
        } else {
            "no (log in again when it expires)"
        }
    ));
    if args.json {
        print_json(&json!({
            "profile": ctx.paths.name,
            "token_file": ctx.paths.tokens,
            "provider": name,
            "issuer": client.provider().issuer(),
            "client_id": profile.client_id,
            "subject": profile.identity.subject,
            "email": profile.identity.email,
            "name": profile.identity.name,
            "scope": tokens.scope(),
            "expires_at": expires,
            "refresh_token": tokens.refresh_token().is_some(),
        }));
    }
    Ok(())
}

/// Opens `url` in the user's browser: `$BROWSER`, else the platform's opener. Failure is fine:
/// the URL is printed anyway.
fn open_browser(url: &str) -> bool {
    use std::process::{Command, Stdio};
    let mut cmd = match std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
    {
        Some(browser) => Command::new(browser),
        None if cfg!(target_os = "macos") => Command::new("open"),
        None if cfg!(windows) => {
            let mut c = Command::new("rundll32");
            c.arg("url.dll,FileProtocolHandler");
            c
        }
        None => Command::new("xdg-open"),
    };
    cmd.arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match cmd.spawn() {
        Ok(mut child) => {
            // Reap it in the background; the login does not wait for the browser to exit.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            true
        }
        Err(_) => false,
    }
}
