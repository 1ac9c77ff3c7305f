//! The commands that use a stored login: token, refresh, revoke, userinfo, introspect,
//! status, profiles.

use std::time::Duration;

use grantkit::store::TokenStore;
use grantkit::{Endpoint, Error, Introspection, OAuthErrorCode, TokenSet, TokenTypeHint};
use serde_json::{json, Map, Value};

use super::{client_for, missing_credentials, print_json, source_for, Ctx};
use crate::cli::{IntrospectArgs, JsonArgs, RevokeArgs, StatusArgs, TokenArgs};
use crate::commands::login::accesslink_error;
use crate::error::{CliError, CliResult, Exit};
use crate::output::{relative, unix, unix_now, utc, Out};
use crate::profile::{remove_if_present, Paths, Profile};
use grantkit_polar_accesslink::{AccessLink, UserId};

/// The margin `token` promises (the token source's default).
const MARGIN: Duration = Duration::from_secs(60);

/// `grantkit token`.
pub async fn token(ctx: &Ctx, args: TokenArgs) -> CliResult {
    let profile = Profile::load(&ctx.paths)?;
    let relogin = ctx.relogin(&profile);
    let tokens: TokenSet = if let Some(missing) = missing_credentials(ctx, &profile) {
        // Without the credentials a refresh is impossible, but a fresh stored token is still fine.
        let stored = ctx
            .paths
            .store()
            .load()
            .await
            .map_err(|e| CliError::from_grantkit(&e, &relogin))?
            .ok_or_else(|| {
                CliError::reauthorize(format!(
                    "{} holds no tokens: run `{relogin}`",
                    ctx.paths.tokens.display()
                ))
            })?;
        if stored.expires_within(MARGIN) {
            return Err(CliError::usage(format!(
                "the access token expires within a minute and refreshing it needs the client's credentials: {}",
                missing.message()
            )));
        }
        stored
    } else {
        let source = source_for(ctx, &profile, client_for(ctx, &profile)?).await?;
        let token = source
            .access_token()
            .await
            .map_err(|e| CliError::from_grantkit(&e, &relogin))?;
        token.token_set().clone()
    };
    if args.json {
        let expires_at = tokens.expires_at().map(unix);
        let value = json!({
            "access_token": tokens.access_token().expose(),
            "token_type": tokens.token_type().as_str(),
            "expires_at": expires_at,
            "expires_in": expires_at.map(|at| at.saturating_sub(unix_now())),
        });
        crate::output::print_stdout(&value.to_string());
    } else {
        crate::output::print_stdout(tokens.access_token().expose());
    }
    Ok(())
}

/// `grantkit refresh`.
pub async fn refresh(ctx: &Ctx, args: JsonArgs) -> CliResult {
    let profile = Profile::load(&ctx.paths)?;
    let relogin = ctx.relogin(&profile);
    let source = source_for(ctx, &profile, client_for(ctx, &profile)?).await?;
    let before = source.current();
    let after = source
        .force_refresh()
        .await
        .map_err(|e| CliError::from_grantkit(&e, &relogin))?;
    let tokens = after.token_set();
    let rotated = tokens.refresh_token() != before.token_set().refresh_token();
    let expires_at = tokens.expires_at().map(unix);
    ctx.out.ok(&format!(
        "Refreshed: access token expires {}; refresh token {}; saved in {}",
        expires_at.map_or("never".to_owned(), relative),
        if rotated { "rotated" } else { "kept" },
        ctx.paths.tokens.display()
    ));
    if args.json {
        print_json(&json!({
            "expires_at": expires_at,
            "expires_in": expires_at.map(|at| at.saturating_sub(unix_now())),
            "scope": tokens.scope(),
            "token_type": tokens.token_type().as_str(),
            "refresh_token_rotated": rotated,
        }));
    }
    Ok(())
}

/// `grantkit revoke` / `grantkit logout`.
pub async fn revoke(ctx: &Ctx, args: RevokeArgs) -> CliResult {
    let paths = &ctx.paths;
    let profile = match Profile::load(paths) {
        Ok(profile) => Some(profile),
        Err(e) if e.exit == Exit::Reauthorize => None,
        Err(e) if args.local_only => {
            ctx.out.warn(e.message());
            None
        }
        Err(e) => return Err(e),
    };
    let store = paths.store();
    let relogin = profile.as_ref().map_or_else(
        || format!("grantkit login{}", paths.flags()),
        |p| ctx.relogin(p),
    );
    if !args.local_only {
        // An unreadable file is reported before anything (even the lock file) is created.
        store
            .load()
            .await
            .map_err(|e| CliError::from_grantkit(&e, &relogin))?;
    }
    // Held while revoking, so no other grantkit process refreshes the pair meanwhile.
    let lock = store
        .lock()
        .await
        .map_err(|e| CliError::from_grantkit(&e, &relogin))?;
    let stored = if args.local_only {
        store.load().await.ok().flatten()
    } else {
        store
            .load()
            .await
            .map_err(|e| CliError::from_grantkit(&e, &relogin))?
    };
    let mut revoked_at = None;
    if !args.local_only {
        match (&profile, &stored) {
            (Some(profile), Some(tokens)) => {
                let client = client_for(ctx, profile)?;
                if let (Some(endpoints), Some(user)) =
                    (profile.accesslink_endpoints(), &profile.accesslink)
                {
                    // AccessLink has no RFC 7009 endpoint: deregistration revokes the token.
                    let access = AccessLink::with_http(&endpoints, client.http_client())
                        .map_err(|e| accesslink_error(&e, &relogin))?;
                    access
                        .deregister(tokens, UserId(user.user_id))
                        .await
                        .map_err(|e| {
                            let mapped = accesslink_error(&e, &relogin);
                            CliError::new(
                                mapped.exit,
                                format!(
                                    "{}; nothing was deleted (retry, or use --local-only)",
                                    mapped.message()
                                ),
                            )
                        })?;
                    revoked_at = Some("Polar AccessLink (user deregistered)".to_owned());
                } else {
                client.revoke_tokens(tokens).await.map_err(|e| {
                    let cannot = matches!(
                        e,
                        Error::MissingEndpoint { .. }
                            | Error::Config(_)
                            | Error::Refused { .. }
                    );
                    if cannot {
                        CliError::usage(format!(
                            "{e}; to forget the tokens here anyway, run `grantkit revoke --local-only{}` (they stay valid until they expire)",
                            paths.flags()
                        ))
                    } else {
                        let mapped = CliError::from_grantkit(&e, &relogin);
                        CliError::new(
                            mapped.exit,
                            format!("{}; nothing was deleted (retry, or use --local-only)", mapped.message()),
                        )
                    }
                })?;
                revoked_at = Some(profile.provider.name().to_owned());
                }
            }
            (None, Some(_)) => {
                return Err(CliError::usage(format!(
                    "{} holds tokens but there is no profile metadata ({}) to revoke them with: run `grantkit revoke --local-only{}` to delete them",
                    paths.tokens.display(),
                    paths.meta.display(),
                    paths.flags()
                )))
            }
            (_, None) => {}
        }
    }
    let deleted = stored.is_some() || profile.is_some();
    store
        .delete()
        .await
        .map_err(|e| CliError::from_grantkit(&e, &relogin))?;
    for file in [&paths.meta, &store.lock_path().to_path_buf()] {
        remove_if_present(file)
            .map_err(|e| CliError::failure(format!("could not delete {}: {e}", file.display())))?;
    }
    drop(lock);
    let who = profile
        .as_ref()
        .map_or_else(String::new, |p| format!(" of {}", p.identity.describe()));
    match (&revoked_at, deleted) {
        (Some(provider), _) => ctx.out.ok(&format!(
            "Revoked the tokens{who} at {provider} and deleted {}",
            paths.tokens.display()
        )),
        (None, true) => ctx.out.ok(&format!(
            "Deleted the stored tokens{who} ({}); they were not revoked at the provider",
            paths.tokens.display()
        )),
        (None, false) => ctx.out.line(&format!(
            "Nothing to revoke: profile `{}` is not logged in",
            paths.name
        )),
    }
    if args.json {
        print_json(&json!({
            "revoked": revoked_at.is_some(),
            "deleted": deleted,
            "token_file": paths.tokens,
        }));
    }
    Ok(())
}

/// `grantkit userinfo`.
pub async fn userinfo(ctx: &Ctx, _args: JsonArgs) -> CliResult {
    let profile = Profile::load(&ctx.paths)?;
    let relogin = ctx.relogin(&profile);
    let client = client_for(ctx, &profile)?;
    let source = source_for(ctx, &profile, client.clone()).await?;
    let map = |e: Error| CliError::from_grantkit(&e, &relogin);
    let token = source.access_token().await.map_err(map)?;
    if let (Some(endpoints), Some(user)) = (profile.accesslink_endpoints(), &profile.accesslink) {
        // AccessLink has no userinfo endpoint: the registered user is what it knows.
        let api = AccessLink::with_http(&endpoints, client.http_client())
            .map_err(|e| accesslink_error(&e, &relogin))?;
        let found = api
            .get_user(token.token_set(), UserId(user.user_id))
            .await
            .map_err(|e| accesslink_error(&e, &relogin))?
            .ok_or_else(|| {
                CliError::failure(format!(
                    "Polar user {} is not registered at AccessLink (logged in with --no-register?): run `{relogin}` without --no-register",
                    user.user_id
                ))
            })?;
        let found = serde_json::to_value(found)
            .map_err(|e| CliError::failure(format!("could not print the user: {e}")))?;
        print_json(&found);
        return Ok(());
    }
    let info = match client.userinfo(token.token_set()).await {
        // Rejected although it looked valid (revoked, or the clocks disagree): refresh once.
        Err(e) if e.oauth_code() == Some(&OAuthErrorCode::InvalidToken) => {
            let token = source.refresh_if_current(&token).await.map_err(map)?;
            client.userinfo(token.token_set()).await.map_err(map)?
        }
        other => other.map_err(map)?,
    };
    print_json(&Value::Object(info.claims));
    Ok(())
}

/// `grantkit introspect`.
pub async fn introspect(ctx: &Ctx, args: IntrospectArgs) -> CliResult {
    let profile = Profile::load(&ctx.paths)?;
    let relogin = ctx.relogin(&profile);
    let client = client_for(ctx, &profile)?;
    let tokens = load_tokens(&ctx.paths, &relogin).await?;
    let (token, hint) = if args.refresh_token {
        let refresh = tokens.refresh_token().ok_or_else(|| {
            CliError::usage("this login has no refresh token to introspect; drop --refresh-token")
        })?;
        (refresh.clone(), TokenTypeHint::RefreshToken)
    } else {
        (tokens.access_token().clone(), TokenTypeHint::AccessToken)
    };
    let info = client
        .introspect(&token, Some(hint))
        .await
        .map_err(|e| match e {
            Error::MissingEndpoint {
                endpoint: Endpoint::Introspection,
                ..
            } => CliError::usage(format!("{e}: this provider does not offer introspection")),
            Error::Refused { .. } => CliError::usage(format!(
                "{e}; introspection here needs a confidential client (a client secret or key)"
            )),
            e => CliError::from_grantkit(&e, &relogin),
        })?;
    print_json(&introspection_json(info));
    Ok(())
}

fn introspection_json(info: Introspection) -> Value {
    let mut map = Map::new();
    map.insert("active".into(), json!(info.active));
    let fields = [
        ("scope", json!(info.scope)),
        ("client_id", json!(info.client_id)),
        ("username", json!(info.username)),
        ("token_type", json!(info.token_type)),
        ("exp", json!(info.exp)),
        ("iat", json!(info.iat)),
        ("sub", json!(info.sub)),
        ("iss", json!(info.iss)),
    ];
    for (name, value) in fields {
        if !value.is_null() {
            map.insert(name.into(), value);
        }
    }
    if !info.aud.is_empty() {
        map.insert("aud".into(), json!(info.aud));
    }
    for (name, value) in info.extra {
        map.entry(name).or_insert(value);
    }
    Value::Object(map)
}

async fn load_tokens(paths: &Paths, relogin: &str) -> CliResult<TokenSet> {
    paths
        .store()
        .load()
        .await
        .map_err(|e| CliError::from_grantkit(&e, relogin))?
        .ok_or_else(|| {
            CliError::reauthorize(format!(
                "{} holds no tokens: run `{relogin}`",
                paths.tokens.display()
            ))
        })
}

/// What the provider said about the stored tokens (`status --check`).
struct Check {
    /// `introspection` or `userinfo`.
    by: &'static str,
    /// Whether the access token is active.
    access: bool,
    /// Whether the refresh token is, when it was asked (introspection only).
    refresh: Option<bool>,
}

impl Check {
    /// Usable: the access token works, or a refresh token that was not found dead exists.
    fn usable(&self, has_refresh: bool) -> bool {
        self.access || self.refresh.unwrap_or(has_refresh)
    }

    fn describe(&self) -> String {
        let refresh = match self.refresh {
            Some(true) => "; the refresh token is active: refreshed on next use",
            Some(false) => "; the refresh token is not active either",
            None => "",
        };
        if self.access {
            format!("active at the provider ({})", self.by)
        } else {
            format!(
                "not active at the provider ({}): revoked or expired{refresh}",
                self.by
            )
        }
    }
}

/// Asks the provider about the stored tokens: introspection when this client may call it,
/// else userinfo (which can only say whether the access token still works).
async fn check_at_provider(
    ctx: &Ctx,
    profile: &Profile,
    tokens: &TokenSet,
    relogin: &str,
) -> CliResult<Check> {
    let client = client_for(ctx, profile)?;
    let map = |e: Error| CliError::from_grantkit(&e, relogin);
    let hint = Some(TokenTypeHint::AccessToken);
    match client.introspect(tokens.access_token(), hint).await {
        Ok(info) => {
            // Some providers answer `active: false` to a client outside the token's audience
            // (Keycloak, docs/interop.md K2): userinfo tells whether the token still works.
            if !info.active && client.userinfo(tokens).await.is_ok() {
                return Ok(Check {
                    by: "userinfo; introspection said inactive, as some providers answer a client outside the token's audience",
                    access: true,
                    refresh: None,
                });
            }
            let refresh = match (info.active, tokens.refresh_token()) {
                (false, Some(refresh)) => {
                    let hint = Some(TokenTypeHint::RefreshToken);
                    Some(client.introspect(refresh, hint).await.map_err(map)?.active)
                }
                _ => None,
            };
            return Ok(Check {
                by: "introspection",
                access: info.active,
                refresh,
            });
        }
        Err(Error::MissingEndpoint { .. } | Error::Refused { .. } | Error::Config(_)) => {}
        Err(e) => return Err(map(e)),
    }
    let access = match client.userinfo(tokens).await {
        Ok(_) => true,
        Err(e) if e.oauth_code() == Some(&OAuthErrorCode::InvalidToken) => false,
        Err(Error::MissingEndpoint { .. }) => {
            return Err(CliError::usage(
                "this provider offers this client neither introspection nor userinfo: --check cannot ask it",
            ))
        }
        Err(e) => return Err(map(e)),
    };
    Ok(Check {
        by: "userinfo",
        access,
        refresh: None,
    })
}

/// `grantkit status`.
pub async fn status(ctx: &Ctx, args: StatusArgs) -> CliResult {
    let profile = Profile::load(&ctx.paths)?;
    let relogin = ctx.relogin(&profile);
    let tokens = load_tokens(&ctx.paths, &relogin).await?;
    let check = match args.check {
        true => Some(check_at_provider(ctx, &profile, &tokens, &relogin).await?),
        false => None,
    };
    let out = &Out::stdout();
    let now = unix_now();
    let expires_at = tokens.expires_at().map(unix);
    let refreshable = tokens.refresh_token().is_some() && profile.provider.quirks().refresh_tokens;
    let expired = tokens.expires_within(MARGIN);
    let usable = !expired || refreshable;
    if args.json {
        print_json(&json!({
            "profile": ctx.paths.name,
            "token_file": ctx.paths.tokens,
            "provider": profile.provider.name(),
            "issuer": profile.provider.issuer(),
            "client_id": profile.client_id,
            "auth_method": profile.auth_method,
            "subject": profile.identity.subject,
            "email": profile.identity.email,
            "name": profile.identity.name,
            "scope": tokens.scope(),
            "expires_at": expires_at,
            "expires_in": expires_at.map(|at| at.saturating_sub(now)),
            "refreshable": refreshable,
            "logged_in_at": profile.logged_in_at,
            "needs_login": !usable,
            "provider_check": check.as_ref().map(|c| json!({
                "by": c.by,
                "active": c.access,
                "refresh_token_active": c.refresh,
            })),
            "accesslink": profile.accesslink.as_ref().map(|u| json!({
                "user_id": u.user_id,
                "member_id": u.member_id,
                "registered": u.registered,
            })),
        }));
    } else {
        let label = |name: &str| out.dim(&format!("{name:<10}"));
        let access = match expires_at {
            None => "valid, no expiry given by the provider".to_owned(),
            Some(at) if at > now && !expired => {
                format!("valid, expires {} ({})", relative(at), utc(at))
            }
            Some(at) if at > now => format!(
                "expires {} ({}), {}",
                relative(at),
                utc(at),
                if refreshable {
                    "refreshed on next use"
                } else {
                    "log in again soon"
                }
            ),
            Some(at) => format!(
                "expired {} ({}), {}",
                relative(at),
                utc(at),
                if refreshable {
                    "refreshed on next use"
                } else {
                    "log in again"
                }
            ),
        };
        let issuer = match profile.provider.issuer() {
            Some(i) if i != profile.provider.name() => format!(" ({i})"),
            _ => String::new(),
        };
        out.line(&format!(
            "{} {} ({})",
            label("profile"),
            out.bold(&ctx.paths.name),
            ctx.paths.tokens.display()
        ));
        out.line(&format!(
            "{} {}{issuer}",
            label("provider"),
            profile.provider.name()
        ));
        out.line(&format!(
            "{} {} ({})",
            label("client"),
            profile.client_id,
            profile.auth_method.as_str()
        ));
        out.line(&format!(
            "{} {}",
            label("user"),
            out.bold(&profile.identity.describe())
        ));
        if let Some(user) = &profile.accesslink {
            out.line(&format!(
                "{} Polar user {}, {}",
                label("accesslink"),
                user.user_id,
                match &user.member_id {
                    Some(m) if user.registered => format!("registered with member-id {m}"),
                    _ => "not registered".to_owned(),
                }
            ));
        }
        out.line(&format!(
            "{} {}",
            label("scopes"),
            tokens.scope().unwrap_or("(none named)")
        ));
        out.line(&format!("{} {access}", label("access")));
        if let Some(check) = &check {
            out.line(&format!("{} {}", label("checked"), check.describe()));
        }
        out.line(&format!(
            "{} {}",
            label("refresh"),
            if refreshable { "yes" } else { "no" }
        ));
        out.line(&format!(
            "{} {}",
            label("logged in"),
            relative(profile.logged_in_at)
        ));
    }
    if !usable {
        return Err(CliError::reauthorize(format!(
            "the access token has expired and cannot be refreshed: run `{relogin}`"
        )));
    }
    let has_refresh = tokens.refresh_token().is_some();
    match check {
        Some(check) if !check.usable(has_refresh) => Err(CliError::reauthorize(format!(
            "the provider no longer accepts these tokens ({}): run `{relogin}`",
            check.by
        ))),
        _ => Ok(()),
    }
}

/// `grantkit profiles`.
pub async fn profiles(ctx: &Ctx, args: JsonArgs) -> CliResult {
    let Some(dir) = crate::profile::config_dir() else {
        return Err(CliError::usage(
            "no configuration directory: set HOME (or XDG_CONFIG_HOME)",
        ));
    };
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".profile.json"))
                    .filter(|n| !n.starts_with('.'))
                    .map(str::to_owned)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    let mut rows = Vec::new();
    for name in names {
        let paths = Paths::resolve(&name, None)?;
        let row = match Profile::load(&paths) {
            Ok(p) => {
                let tokens = paths.store().load().await;
                let state = match &tokens {
                    Ok(Some(t)) => match t.expires_at().map(unix) {
                        Some(at) if t.expires_within(MARGIN) && t.refresh_token().is_none() => {
                            format!("expired {}", relative(at))
                        }
                        Some(_) if t.expires_within(MARGIN) => "refreshed on next use".to_owned(),
                        Some(at) => format!("valid, expires {}", relative(at)),
                        None => "valid".to_owned(),
                    },
                    Ok(None) => "no tokens".to_owned(),
                    Err(e) => format!("unreadable: {e}"),
                };
                json!({
                    "profile": name,
                    "provider": p.provider.name(),
                    "client_id": p.client_id,
                    "subject": p.identity.subject,
                    "user": p.identity.describe(),
                    "state": state,
                })
            }
            Err(e) => json!({"profile": name, "state": e.message()}),
        };
        rows.push(row);
    }
    if args.json {
        print_json(&Value::Array(rows));
    } else if rows.is_empty() {
        ctx.out.line(&format!(
            "No profiles in {}: run `grantkit login` first",
            dir.display()
        ));
    } else {
        for row in &rows {
            let text = |k: &str| row[k].as_str().unwrap_or("-").to_owned();
            ctx.out.line(&format!(
                "{:<16} {:<12} {:<40} {}",
                text("profile"),
                text("provider"),
                text("user"),
                text("state")
            ));
        }
    }
    Ok(())
}
