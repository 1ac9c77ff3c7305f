//! Command-line syntax (clap derive). Every command's `--help` ends with examples.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::providers::{parse_preset, Preset};

const ROOT_AFTER: &str = "\
Examples:
  grantkit demo                                   # a complete login against a fake Polar.sh, offline
  grantkit login --issuer https://accounts.example.com --client-id my-cli
  grantkit token                                  # a valid access token, refreshed when needed
  curl -H \"Authorization: Bearer $(grantkit token)\" https://api.example.com/me
  grantkit status
  grantkit revoke

Files:
  <config>/grantkit/<profile>.json          tokens (mode 0600, replaced atomically, locked while refreshing)
  <config>/grantkit/<profile>.profile.json  provider, endpoints, client id, scopes, who (never the secret)
  <config> is $XDG_CONFIG_HOME, else $HOME/.config (%APPDATA% on Windows).

Environment:
  GRANTKIT_CLIENT_ID, GRANTKIT_CLIENT_SECRET, GRANTKIT_PROFILE, GRANTKIT_TOKEN_FILE,
  GRANTKIT_POLAR_API_BASE, GRANTKIT_POLAR_WEB_BASE, GRANTKIT_ACCESSLINK_BASE, NO_COLOR

Exit codes:
  0  success
  1  failure: the provider refused (client credentials, ID token...), an unreadable token file
  2  usage: bad or missing flags, unknown provider, missing client id/secret, port in use
  3  log in (again): nothing stored, or the grant expired or was revoked
  4  provider unreachable or failing for now (network, timeout, 5xx, 429): retry later
  5  the browser login did not complete: timeout, or the user or provider declined

Human messages go to stderr (coloured on a terminal unless NO_COLOR is set); tokens, JSON and the
output of `status` go to stdout.
Docs: docs/cli.md";

/// grantkit: log in to OAuth 2.0 / OpenID Connect providers from the terminal and hand out
/// access tokens to scripts.
#[derive(Debug, Parser)]
#[command(name = "grantkit", version, after_help = ROOT_AFTER, max_term_width = 110)]
pub struct Cli {
    /// Which profile (login) to use.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The profile: tokens in <config>/grantkit/<NAME>.json.
    #[arg(
        long,
        global = true,
        env = "GRANTKIT_PROFILE",
        default_value = "default",
        value_name = "NAME"
    )]
    pub profile: String,
    /// Keep the tokens in this file instead (the profile metadata goes beside it, as <FILE minus .json>.profile.json).
    #[arg(long, global = true, env = "GRANTKIT_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// The client secret of a confidential client (prefer the environment variable: command lines are visible to other users).
    #[arg(
        long,
        global = true,
        env = "GRANTKIT_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub client_secret: Option<String>,
    /// The private key of a `private_key_jwt` client: a PEM or JWK file. Commands that
    /// authenticate read it each time; the profile never stores the key or its path.
    #[arg(long, global = true, env = "GRANTKIT_PRIVATE_KEY", value_name = "FILE")]
    pub private_key: Option<PathBuf>,
    /// The client certificate chain and its private key, in one PEM file (`cat client.crt
    /// client.key`), for tls_client_auth / self_signed_tls_client_auth (RFC 8705) and
    /// certificate-bound tokens. Read each time, like --private-key, and refused when other
    /// users may read it; the profile never stores it or its path.
    #[arg(
        long,
        global = true,
        env = "GRANTKIT_TLS_IDENTITY",
        value_name = "FILE"
    )]
    pub tls_identity: Option<PathBuf>,
    /// A PEM CA certificate to trust besides the system's roots (a provider on a private CA),
    /// for discovery and every call of the client.
    #[arg(long, global = true, env = "GRANTKIT_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

/// The commands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Log in through the browser (loopback redirect, RFC 8252) and save the tokens.
    #[command(after_help = LOGIN_AFTER)]
    Login(LoginArgs),
    /// Print a valid access token on stdout, refreshing it first when needed.
    #[command(after_help = TOKEN_AFTER)]
    Token(TokenArgs),
    /// Refresh the tokens now and save the new pair.
    #[command(after_help = REFRESH_AFTER)]
    Refresh(JsonArgs),
    /// Revoke the tokens at the provider and delete them.
    #[command(visible_alias = "logout", after_help = REVOKE_AFTER)]
    Revoke(RevokeArgs),
    /// Print the provider's userinfo for the logged-in user, as JSON.
    #[command(after_help = USERINFO_AFTER)]
    Userinfo(JsonArgs),
    /// Ask the provider about the stored token (RFC 7662), as JSON.
    #[command(after_help = INTROSPECT_AFTER)]
    Introspect(IntrospectArgs),
    /// Who is logged in, with which scopes, until when (no network unless --check).
    #[command(after_help = STATUS_AFTER)]
    Status(StatusArgs),
    /// List the profiles in the configuration directory.
    #[command(after_help = PROFILES_AFTER)]
    Profiles(JsonArgs),
    /// Run a complete login on this machine against a fake Polar.sh: no network, no credentials.
    #[command(after_help = DEMO_AFTER)]
    Demo(DemoArgs),
}

const LOGIN_AFTER: &str = "\
The authorization URL (state, PKCE S256, and a nonce for OpenID Connect) is printed alone on a line of
stdout, and opened in the browser unless --no-browser. The browser comes back to
http://127.0.0.1:<port>/callback, where grantkit waits for exactly one callback carrying this login's
state. A callback with another state (a stale tab, a forged request) is refused with a 400 page and
the login keeps waiting. Then the code is exchanged, the ID token validated, and the tokens saved.

Examples:
  # Any OpenID Connect provider, public client (PKCE), a free loopback port:
  grantkit login --issuer https://accounts.example.com --client-id my-cli
  # A confidential client (the secret from the environment, not the command line):
  GRANTKIT_CLIENT_SECRET=... grantkit login --issuer https://op.example --client-id my-app --scope \"openid email\"
  # Polar.sh compares redirect URIs exactly: register http://127.0.0.1:8976/callback and fix the port
  grantkit login --provider polar-sh --client-id polar_ci_... --redirect-port 8976 --param sub_type=organization
  # On a machine without a browser: the device flow (RFC 8628). Open the printed URL on any device
  # (phone, laptop) and enter the code; nothing has to reach this machine
  grantkit login --device --issuer https://op.example --client-id my-cli
  # Or the browser login with the URL opened elsewhere (the callback must reach this machine)
  grantkit login --issuer https://op.example --client-id my-cli --no-browser --timeout 10m
  # Polar AccessLink: link and register the user (confidential client, HTTP Basic)
  GRANTKIT_CLIENT_SECRET=... grantkit login --provider polar-accesslink --client-id ... --redirect-port 8976 --member-id user-42
  # A second account
  grantkit login --profile work --issuer https://login.work.example --client-id cli";

const TOKEN_AFTER: &str = "\
The token is valid for at least another minute. It is refreshed (once, even with several grantkit
processes at the same time) and the new pair saved before it is printed. Exit code 3 means the user
must run grantkit login again.

Examples:
  grantkit token
  curl -H \"Authorization: Bearer $(grantkit token)\" https://api.example.com/v1/me
  grantkit token --profile work --json      # {\"access_token\", \"token_type\", \"expires_at\", \"expires_in\"}";

const REFRESH_AFTER: &str = "\
Examples:
  grantkit refresh
  grantkit refresh --json                   # {\"expires_at\", \"expires_in\", \"scope\", \"token_type\"}";

const REVOKE_AFTER: &str = "\
Revokes the refresh token and then the access token (RFC 7009), then deletes the profile's files.
Polar AccessLink has no RFC 7009 endpoint: there, revoke deregisters the user (DELETE /v3/users/{id}),
which revokes the token.
If the provider cannot be reached, nothing is deleted: retry, or use --local-only.

Examples:
  grantkit revoke
  grantkit logout --profile work
  grantkit revoke --local-only              # forget the tokens without telling the provider";

const USERINFO_AFTER: &str = "\
The access token is refreshed first when needed. The answer's `sub` must match the ID token's.
For Polar AccessLink, which has no userinfo endpoint, this prints the registered user (GET /v3/users/{id}).

Examples:
  grantkit userinfo
  grantkit userinfo --json | jq -r .email";

const INTROSPECT_AFTER: &str = "\
Introspects the stored token as it is (no refresh), so an expired or revoked one shows `active: false`.
Providers usually require a confidential client for this (Polar.sh does).

Examples:
  grantkit introspect
  grantkit introspect --refresh-token
  grantkit introspect | jq .active";

const STATUS_AFTER: &str = "\
Reads the profile only; no request is made, so a token the provider revoked still shows as valid.
--check asks the provider: introspection (RFC 7662) when this client may call it, else userinfo.
Exit code 3 when there is nothing usable (not logged in, expired without a refresh token, or with
--check: the provider no longer accepts the tokens). Human output goes to stdout.

Examples:
  grantkit status
  grantkit status | grep expires
  grantkit status --check
  grantkit status --profile work --json";

const PROFILES_AFTER: &str = "\
Examples:
  grantkit profiles
  grantkit profiles --json";

const DEMO_AFTER: &str = "\
Starts the testkit's fake Polar.sh on 127.0.0.1, registers a client, and runs discovery, the
authorization request, consent (approved by a stand-in browser that lands on the demo's own loopback
listener), the code exchange with ID-token validation, saving the tokens (0600), userinfo, refresh
(rotation), introspection and revocation, printing each step with its time. Exit code 0 only when
every step succeeded. Nothing is written outside a temporary directory.

Examples:
  grantkit demo
  cargo run -p grantkit-cli -- demo";

/// `--json`.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `grantkit login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// A preset: polar-sh, polar-sh-sandbox or polar-accesslink.
    #[arg(long, value_name = "NAME", value_parser = parse_preset)]
    pub provider: Option<Preset>,
    /// Any OpenID Connect / RFC 8414 provider, found by discovery at this issuer URL.
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// The issuer the discovery document must name, when it is not --issuer (a provider that
    /// serves its metadata from another URL). The issuer must match character for character.
    #[arg(long, value_name = "URL", requires = "issuer")]
    pub expected_issuer: Option<String>,
    /// The client id registered at the provider.
    #[arg(long, env = "GRANTKIT_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,
    /// Client authentication: client_secret_basic, client_secret_post, client_secret_jwt,
    /// private_key_jwt, tls_client_auth, self_signed_tls_client_auth or none (default:
    /// private_key_jwt with --private-key, tls_client_auth with --tls-identity alone, none
    /// without a secret; with one, the provider's preference).
    #[arg(long, value_name = "METHOD")]
    pub auth_method: Option<String>,
    /// Space-separated scopes (default: openid email profile, as the provider supports them).
    #[arg(long, value_name = "SCOPES")]
    pub scope: Option<String>,
    /// Extra authorization parameter, repeatable (sub_type=organization, login_hint=..., prompt=consent).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// The loopback port for http://127.0.0.1:<port>/callback (default: a free port).
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub redirect_port: u16,
    /// Do not open the browser; only print the URL.
    #[arg(long)]
    pub no_browser: bool,
    /// Log in with the device authorization grant (RFC 8628), for machines without a browser:
    /// print a code and a URL to open on any other device, and wait for the approval there.
    #[arg(long)]
    pub device: bool,
    /// How long to wait for the browser to come back (with --device: for the approval): 90s, 5m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Point the Polar.sh preset at another API base (a proxy, or the testkit's fake).
    #[arg(long, env = "GRANTKIT_POLAR_API_BASE", value_name = "URL")]
    pub polar_api_base: Option<String>,
    /// With --polar-api-base: the web base serving /oauth2/authorize (default: the API base).
    #[arg(long, env = "GRANTKIT_POLAR_WEB_BASE", value_name = "URL")]
    pub polar_web_base: Option<String>,
    /// Point the polar-accesslink preset at another base URL serving /oauth2/authorization,
    /// /v2/oauth2/token and /v3 (the testkit's fake).
    #[arg(long, env = "GRANTKIT_ACCESSLINK_BASE", value_name = "URL")]
    pub accesslink_base: Option<String>,
    /// AccessLink: the member-id to register the user under (default: a generated unique one).
    #[arg(long, value_name = "ID")]
    pub member_id: Option<String>,
    /// AccessLink: link only, do not register the user (POST /v3/users).
    #[arg(long)]
    pub no_register: bool,
    /// Print a JSON summary on stdout after the URL line.
    #[arg(long)]
    pub json: bool,
}

/// `grantkit status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Ask the provider whether the tokens are still valid (introspection, else userinfo).
    #[arg(long)]
    pub check: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `grantkit token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Print {"access_token", "token_type", "expires_at", "expires_in"} instead of the bare token.
    #[arg(long)]
    pub json: bool,
}

/// `grantkit revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Delete the stored tokens without revoking them at the provider (they stay valid until they expire).
    #[arg(long)]
    pub local_only: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `grantkit introspect`.
#[derive(Debug, Args)]
pub struct IntrospectArgs {
    /// Introspect the refresh token instead of the access token.
    #[arg(long)]
    pub refresh_token: bool,
    /// Print JSON on stdout (the only output; accepted for symmetry).
    #[arg(long)]
    pub json: bool,
}

/// `grantkit demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {}

/// `90`, `90s`, `5m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write 90s, 5m or 1h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{text}` is not a duration: write 90s, 5m or 1h")),
    };
    if secs == 0 {
        return Err("the timeout must be at least 1s".into());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
