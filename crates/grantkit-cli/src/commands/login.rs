//! `grantkit login`: the RFC 8252 loopback login.

use grantkit::{AuthMethod, Client, OAuthErrorCode, TokenSet, TokenSource};
use serde_json::json;

use super::{
    identify, needs_secret, print_json, redirect_notice, start_authorization, wait_for_callback,
    Ctx,
};
use crate::cli::LoginArgs;
use crate::error::{CliError, CliResult, Exit};
use crate::loopback::Loopback;
use crate::output::{relative, terminal_safe, unix, unix_now};
use crate::profile::{AccessLinkUser, Identity, Profile, FORMAT};
use crate::providers::{Flags, Selected};
use grantkit_polar_accesslink::{AccessLink, MemberId, TokenSetExt};

/// Runs `grantkit login`.
pub async fn run(ctx: &Ctx, args: LoginArgs) -> CliResult {
    let out = &ctx.out;
    // Everything that can be checked without the network first, and nothing written until the
    // tokens are in hand.
    let selected = Selected::from_flags(Flags {
        preset: args.provider,
        issuer: args.issuer.as_deref(),
        expected_issuer: args.expected_issuer.as_deref(),
        polar_api_base: args.polar_api_base.as_deref(),
        polar_web_base: args.polar_web_base.as_deref(),
        accesslink_base: args.accesslink_base.as_deref(),
    })?;
    let member_id = match (&selected, &args.member_id, args.no_register) {
        (Selected::AccessLink { .. }, Some(_), true) => {
            return Err(CliError::usage(
                "--member-id and --no-register contradict each other: drop one",
            ))
        }
        (Selected::AccessLink { .. }, Some(id), false) => Some(
            MemberId::new(id.clone()).map_err(|e| CliError::usage(format!("--member-id: {e}")))?,
        ),
        (Selected::AccessLink { .. }, None, false) => Some(MemberId::generate()),
        (Selected::AccessLink { .. }, None, true) => None,
        (_, Some(_), _) | (_, _, true) => {
            return Err(CliError::usage(
                "--member-id and --no-register only apply to --provider polar-accesslink",
            ))
        }
        _ => None,
    };
    let client_id = args
        .client_id
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| {
            CliError::usage(
                "no client id: pass --client-id ID or set GRANTKIT_CLIENT_ID (the id of the app registered at the provider)",
            )
        })?;
    let key = ctx.client_key()?;
    let identity = ctx.tls_identity()?;
    let ca = ctx.ca_cert()?;
    let method = match args.auth_method.as_deref() {
        None if key.is_some() => Some(AuthMethod::PrivateKeyJwt),
        // A certificate alone is a certificate-authenticated client; with a secret the
        // certificate only binds the tokens.
        None if identity.is_some() && ctx.secret.is_none() => Some(AuthMethod::TlsClientAuth),
        None => None,
        Some(name) => Some(AuthMethod::from_name(name).ok_or_else(|| {
            CliError::usage(format!(
                "unknown --auth-method `{name}`: use client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, tls_client_auth, self_signed_tls_client_auth or none"
            ))
        })?),
    };
    if let Some(m) = method.filter(|m| m.is_mutual_tls()) {
        if identity.is_none() {
            return Err(super::missing_identity(&client_id, m));
        }
        if ctx.secret.is_some() {
            return Err(CliError::usage(format!(
                "{} authenticates with the certificate, but a client secret was given too: drop it (unset GRANTKIT_CLIENT_SECRET)",
                m.as_str()
            )));
        }
    }
    match (method, &ctx.secret, &key) {
        (Some(m), None, _) if needs_secret(m) => return Err(super::missing_secret(&client_id, m)),
        (Some(AuthMethod::PrivateKeyJwt), _, None) => return Err(super::missing_key(&client_id)),
        (Some(AuthMethod::PrivateKeyJwt), Some(_), _) => {
            return Err(CliError::usage(
                "private_key_jwt signs with the key, but a client secret was given too: drop it (unset GRANTKIT_CLIENT_SECRET)",
            ))
        }
        (Some(m), _, Some(_)) if m != AuthMethod::PrivateKeyJwt => {
            return Err(CliError::usage(format!(
                "--private-key is for private_key_jwt, but the client authenticates with {}: drop the key (unset GRANTKIT_PRIVATE_KEY) or use --auth-method private_key_jwt",
                m.as_str()
            )))
        }
        (Some(AuthMethod::None), Some(_), _) => {
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
    if args.device {
        let browser_only = if matches!(selected, Selected::AccessLink { .. }) {
            Some("Polar AccessLink has no device flow")
        } else if args.redirect_port != 0 {
            Some("--redirect-port is for the browser login")
        } else if !params.is_empty() {
            Some("--param is for the browser login")
        } else {
            None
        };
        if let Some(why) = browser_only {
            return Err(CliError::usage(format!("{why}: drop it, or drop --device")));
        }
    }

    // The browser login binds its loopback listener first: a port in use fails before anything.
    let listener = if args.device {
        None
    } else {
        Some(Loopback::bind(args.redirect_port).await?)
    };
    let redirect_uri = listener
        .as_ref()
        .map(Loopback::redirect_uri)
        .unwrap_or_default();
    let provider = selected
        .discover(ca.as_ref())
        .await
        .map_err(|e| discovery_error(&selected, &e))?;
    let scopes: Vec<String> = match &args.scope {
        Some(scope) => scope.split_ascii_whitespace().map(str::to_owned).collect(),
        None => selected.default_scopes(&provider),
    };
    // Without a secret or a key the client is public, unless the user said otherwise; the
    // provider's first listed method says what it would ask for.
    let accepted = provider.auth_methods();
    let needs_credentials = match method {
        Some(method) => method != AuthMethod::None,
        None => !accepted.is_empty() && !accepted.contains(&AuthMethod::None),
    };
    if ctx.secret.is_none() && key.is_none() && identity.is_none() && needs_credentials {
        if let Some(wanted) = method.or_else(|| accepted.first().copied()) {
            return Err(super::missing_secret(&client_id, wanted));
        }
    }
    let mut builder = Client::builder(provider, client_id.clone()).scopes(scopes.clone());
    if listener.is_some() {
        builder = builder.redirect_uri(redirect_uri.clone());
    }
    if let Some(method) = method {
        builder = builder.auth_method(method);
    }
    if let Some(secret) = &ctx.secret {
        builder = builder.client_secret(secret.clone());
    }
    if let Some(key) = key {
        builder = builder.private_key(key);
    }
    if let Some(identity) = identity {
        builder = builder.tls_identity(identity);
    }
    if let Some(ca) = ca {
        builder = builder.root_certificate(ca);
    }
    let client = builder
        .build()
        .map_err(|e| CliError::from_grantkit(&e, "grantkit login"))?;
    let name = client.provider().name().to_owned();

    let tokens = match listener {
        Some(listener) => {
            let (url, pending) = start_authorization(&client, &listener, &scopes, &params)?;
            out.line(&format!(
                "Logging in to {} with client {} ({}); waiting for the browser at {redirect_uri}",
                out.bold(&name),
                client_id,
                client.auth_method().as_str()
            ));
            out.line(&redirect_notice(&redirect_uri, args.redirect_port != 0));
            let opened = !args.no_browser && open_browser(url.as_str());
            out.line(&if opened {
                "Opening this URL in your browser (open it yourself if nothing happens):".to_owned()
            } else {
                "Open this URL in a browser on this machine:".to_owned()
            });
            print_line(url.as_str());
            let (code, answer) = wait_for_callback(out, listener, &pending, args.timeout).await?;
            let exchanged = client
                .exchange_code(code)
                .await
                .map_err(|e| exchange_error(&client, &e, "grantkit login"));
            let shown = exchanged
                .as_ref()
                .map(|_| ())
                .map_err(|e| e.message().to_owned());
            answer.send(shown).await;
            exchanged?
        }
        None => device_login(ctx, &client, &scopes, args.timeout).await?,
    };
    let (identity, accesslink) = match &selected {
        Selected::AccessLink { endpoints, .. } => {
            let (identity, user) = accesslink_user(&client, endpoints, &tokens, member_id).await?;
            (identity, Some(user))
        }
        _ => (identify(&client, &tokens).await, None),
    };

    let profile = Profile {
        version: FORMAT,
        selected: selected.record(),
        provider: client.provider().clone(),
        client_id,
        auth_method: client.auth_method(),
        scopes,
        redirect_uri,
        device: args.device,
        redirect_port: (args.redirect_port != 0).then_some(args.redirect_port),
        params: args.params.clone(),
        identity,
        logged_in_at: unix_now(),
        accesslink,
    };
    TokenSource::builder(client.clone())
        .store(ctx.paths.store())
        // A CLI process exits right after: no background refresh it could cut short.
        .refresh_ahead(std::time::Duration::ZERO)
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
    if let Some(user) = &profile.accesslink {
        out.line(&match (&user.member_id, user.registered) {
            (Some(member), true) => format!(
                "  registered at AccessLink as Polar user {} with member-id {member}",
                user.user_id
            ),
            _ => format!(
                "  linked Polar user {} without registering it (--no-register): data calls need a registration",
                user.user_id
            ),
        });
    }
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
            "accesslink": profile.accesslink.as_ref().map(|u| json!({
                "user_id": u.user_id,
                "member_id": u.member_id,
                "registered": u.registered,
            })),
        }));
    }
    Ok(())
}

/// Discovery failed: unreachable (exit 4), or refused, with the cause when it is a trailing
/// slash on `--issuer` (the issuer must match character for character).
fn discovery_error(selected: &Selected, e: &grantkit::Error) -> CliError {
    let location = selected.location();
    let mapped = CliError::from_grantkit(e, "grantkit login");
    if mapped.exit == Exit::Unavailable {
        return CliError::new(
            mapped.exit,
            format!("could not reach the provider at {location}: {e}; check the URL and your network, then retry"),
        );
    }
    if let grantkit::Error::IssuerMismatch { found, .. } = e {
        let slash = location.strip_suffix('/') == Some(found.as_str())
            || found.strip_suffix('/') == Some(location.as_str());
        // Only the trailing-slash case gets a ready command: any other mismatch may be the
        // mix-up the check exists for, and the server's word is no reason to trust it.
        let advice = if slash {
            format!(
                "the trailing slash is the cause: the issuer must match exactly; pass --issuer {}",
                crate::profile::shell_quote(found)
            )
        } else {
            "a document naming another issuer is refused (OpenID Connect Discovery §4.3); check the issuer your provider documents, and use --expected-issuer only when it documents serving its metadata from another host".to_owned()
        };
        return CliError::new(
            mapped.exit,
            format!(
                "discovery at {location} failed: the provider's issuer is `{}`, not `{}`; {advice}",
                terminal_safe(found),
                terminal_safe(&location),
            ),
        );
    }
    CliError::new(
        mapped.exit,
        format!("discovery at {location} failed: {}", mapped.message()),
    )
}

/// The code exchange (or the device flow's token poll) failed; `invalid_client` names the method used and the ones the
/// provider supports, since the method is as likely wrong as the secret.
fn exchange_error(client: &Client, e: &grantkit::Error, relogin: &str) -> CliError {
    let mapped = CliError::from_grantkit(e, relogin);
    // Keycloak answers a failed client authentication with 401 `unauthorized_client`
    // (docs/interop.md, K4): at the token endpoint with a 401, it means the same.
    let client_refused = match e.oauth() {
        Some(o) => {
            o.code == OAuthErrorCode::InvalidClient
                || (o.code == OAuthErrorCode::UnauthorizedClient && o.status == Some(401))
        }
        None => false,
    };
    if !client_refused {
        return mapped;
    }
    let supported: Vec<&str> = client
        .provider()
        .auth_methods()
        .iter()
        .map(|m| m.as_str())
        .collect();
    let supported = if supported.is_empty() {
        "it does not say which".to_owned()
    } else {
        supported.join(", ")
    };
    CliError::new(
        mapped.exit,
        format!(
            "{}; the provider refused client `{}` authenticating with {}: check the client secret, and the method with --auth-method (the provider supports: {supported})",
            mapped.message(),
            terminal_safe(client.client_id()),
            client.auth_method().as_str()
        ),
    )
}

/// Prints `line` alone on stdout, at once (the URL a test or a script waits for).
fn print_line(line: &str) {
    crate::output::print_stdout(line);
}

/// The device flow (RFC 8628): show the code and where to enter it, then poll until the user
/// approved on another device, declined, or the code expired.
async fn device_login(
    ctx: &Ctx,
    client: &Client,
    scopes: &[String],
    timeout: std::time::Duration,
) -> CliResult<TokenSet> {
    let out = &ctx.out;
    const RELOGIN: &str = "grantkit login --device";
    let auth = client
        .device_authorization(scopes)
        .await
        .map_err(|e| match e {
            grantkit::Error::MissingEndpoint { .. } => CliError::usage(format!(
                "provider `{}` has no device authorization endpoint (RFC 8628): drop --device and log in through the browser",
                client.provider().name()
            )),
            e => CliError::from_grantkit(&e, RELOGIN),
        })?;
    out.line(&format!(
        "Logging in to {} with client {} ({}) on another device:",
        out.bold(client.provider().name()),
        client.client_id(),
        client.auth_method().as_str()
    ));
    out.line(&format!(
        "  open {} and enter the code {}",
        terminal_safe(auth.verification_uri()),
        out.bold(&terminal_safe(auth.user_code()))
    ));
    match auth.verification_uri_complete() {
        Some(complete) => {
            out.line("  or open this URL, which holds the code:");
            print_line(complete);
        }
        None => print_line(auth.verification_uri()),
    }
    out.line(&format!(
        "Waiting for the approval (the code expires {})",
        relative(unix(auth.expires_at()))
    ));
    let declined = |what: &str| {
        CliError::new(
            Exit::LoginIncomplete,
            format!("the device login was not completed: {what}; run `{RELOGIN}` again"),
        )
    };
    match tokio::time::timeout(timeout, client.poll_device(&auth)).await {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(e)) => Err(match e.oauth_code() {
            Some(OAuthErrorCode::AccessDenied) => declined("the request was declined"),
            Some(OAuthErrorCode::ExpiredToken) => {
                declined("the code expired before it was approved")
            }
            _ => exchange_error(client, &e, RELOGIN),
        }),
        Err(_) => Err(declined(&format!(
            "no approval within {}",
            crate::output::words(timeout)
        ))),
    }
}

/// AccessLink: the user id of the link, and the registration (unless `--no-register`).
async fn accesslink_user(
    client: &Client,
    endpoints: &grantkit_polar_accesslink::Endpoints,
    tokens: &grantkit::TokenSet,
    member_id: Option<MemberId>,
) -> CliResult<(Identity, AccessLinkUser)> {
    let user_id = tokens
        .user_id()
        .map_err(|e| accesslink_error(&e, "grantkit login --provider polar-accesslink"))?;
    let mut identity = Identity {
        subject: Some(user_id.to_string()),
        ..Identity::default()
    };
    let Some(member_id) = member_id else {
        let user = AccessLinkUser {
            user_id: user_id.0,
            member_id: None,
            registered: false,
        };
        return Ok((identity, user));
    };
    let api = AccessLink::with_http(endpoints, client.http_client())
        .map_err(|e| accesslink_error(&e, "grantkit login"))?;
    let user = api
        .ensure_registered(tokens, user_id, &member_id)
        .await
        .map_err(|e| {
            let mapped = accesslink_error(&e, "grantkit login --provider polar-accesslink");
            CliError::new(
                mapped.exit,
                format!(
                    "the user was linked but not registered, nothing was saved: {}",
                    mapped.message()
                ),
            )
        })?;
    let name: Vec<&str> = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !name.is_empty() {
        identity.name = Some(name.join(" "));
    }
    let user = AccessLinkUser {
        user_id: user_id.0,
        member_id: Some(
            user.member_id
                .unwrap_or_else(|| member_id.as_str().to_owned()),
        ),
        registered: true,
    };
    Ok((identity, user))
}

/// Maps an AccessLink error like a grantkit one.
pub fn accesslink_error(e: &grantkit_polar_accesslink::Error, relogin: &str) -> CliError {
    use grantkit_polar_accesslink::Error as E;
    match e {
        E::Grantkit(inner) => CliError::from_grantkit(inner, relogin),
        e if e.is_reauthorization_required() => {
            CliError::reauthorize(format!("{e}; run `{relogin}`"))
        }
        e if e.is_transient() => CliError::new(Exit::Unavailable, e.to_string()),
        E::InvalidMemberId(_) => CliError::usage(e.to_string()),
        e => CliError::failure(e.to_string()),
    }
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
