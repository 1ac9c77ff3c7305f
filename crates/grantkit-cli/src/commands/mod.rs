//! The commands, and what they share: building the client of a profile, its token source,
//! and the browser part of a login.

pub mod demo;
pub mod login;
pub mod tokens;

use std::path::PathBuf;
use std::time::Duration;

use grantkit::jwt_auth::ClientKey;
use grantkit::mtls::TlsIdentity;
use grantkit::store::read_private_file;
use grantkit::{
    AuthMethod, AuthorizationCode, Client, PendingAuthorization, TokenSet, TokenSource,
};
use url::Url;

use crate::error::{CliError, CliResult, Exit};
use crate::loopback::{Answer, Loopback, WaitError};
use crate::output::Out;
use crate::profile::{Identity, Paths, Profile};

/// What every command gets.
#[derive(Debug)]
pub struct Ctx {
    /// Human output.
    pub out: Out,
    /// The profile's files.
    pub paths: Paths,
    /// `--client-secret` / `GRANTKIT_CLIENT_SECRET`, when set and not empty.
    pub secret: Option<String>,
    /// `--private-key` / `GRANTKIT_PRIVATE_KEY`, when set and not empty.
    pub private_key: Option<PathBuf>,
    /// `--tls-identity` / `GRANTKIT_TLS_IDENTITY`, when set and not empty.
    pub tls_identity: Option<PathBuf>,
    /// `--ca-cert` / `GRANTKIT_CA_CERT`, when set and not empty.
    pub ca_cert: Option<PathBuf>,
}

impl Ctx {
    /// The command that logs `profile` in again ([`Profile::relogin`]), naming the key file of
    /// a `private_key_jwt` client (the profile never records it).
    pub fn relogin(&self, profile: &Profile) -> String {
        let mut cmd = profile.relogin(&self.paths);
        if profile.auth_method() == AuthMethod::PrivateKeyJwt {
            let key = self.private_key.as_ref().map_or_else(
                || "FILE".to_owned(),
                |path| crate::profile::shell_quote(&path.to_string_lossy()),
            );
            cmd.push_str(&format!(" --private-key {key}"));
        }
        if profile.auth_method().is_mutual_tls() {
            cmd.push_str(&format!(
                " --tls-identity {}",
                quoted_or_file(&self.tls_identity)
            ));
        }
        if self.ca_cert.is_some() {
            cmd.push_str(&format!(" --ca-cert {}", quoted_or_file(&self.ca_cert)));
        }
        cmd
    }

    /// The client certificate and key from `--tls-identity`, `None` without the option. The
    /// file holds a private key: it gets the token file's checks (not a link, the owner's,
    /// unreadable by others) before it is read.
    pub fn tls_identity(&self) -> CliResult<Option<TlsIdentity>> {
        let Some(path) = &self.tls_identity else {
            return Ok(None);
        };
        let unusable = |why: String| {
            CliError::usage(format!(
                "the TLS identity {} is not usable: {why}",
                path.display()
            ))
        };
        let pem = read_private_file(path, MAX_PEM_BYTES)
            .map_err(|e| unusable(e.to_string()))?
            .ok_or_else(|| unusable("no such file".into()))?;
        TlsIdentity::from_pem(pem)
            .map(Some)
            .map_err(|e| unusable(e.to_string()))
    }

    /// The extra root from `--ca-cert`, `None` without the option.
    pub fn ca_cert(&self) -> CliResult<Option<reqwest::Certificate>> {
        let Some(path) = &self.ca_cert else {
            return Ok(None);
        };
        let unusable = |why: String| {
            CliError::usage(format!(
                "the CA certificate {} is not usable: {why}",
                path.display()
            ))
        };
        let pem = std::fs::read(path).map_err(|e| unusable(e.to_string()))?;
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(unusable("no PEM certificate in it".into()));
        }
        reqwest::Certificate::from_pem(&pem)
            .map(Some)
            .map_err(|e| unusable(e.to_string()))
    }
}

/// A PEM file is a few kilobytes; anything much larger is not one.
const MAX_PEM_BYTES: u64 = 256 * 1024;

fn quoted_or_file(path: &Option<PathBuf>) -> String {
    path.as_ref().map_or_else(
        || "FILE".to_owned(),
        |path| crate::profile::shell_quote(&path.to_string_lossy()),
    )
}

impl Ctx {
    /// The `private_key_jwt` key from `--private-key`: a JWK when the file holds a JSON object,
    /// else PEM. `None` without the option.
    pub fn client_key(&self) -> CliResult<Option<ClientKey>> {
        let Some(path) = &self.private_key else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::usage(format!(
                "cannot read the private key {}: {e}",
                path.display()
            ))
        })?;
        let key = if text.trim_start().starts_with('{') {
            ClientKey::from_jwk(&text)
        } else {
            ClientKey::from_pem(&text)
        };
        key.map(Some).map_err(|e| {
            CliError::usage(format!(
                "the private key {} is not usable: {e}",
                path.display()
            ))
        })
    }
}

/// Whether `method` authenticates with a client secret: not a public client, not a key, not
/// a certificate.
pub fn needs_secret(method: AuthMethod) -> bool {
    !matches!(method, AuthMethod::None | AuthMethod::PrivateKeyJwt) && !method.is_mutual_tls()
}

/// The error for a profile whose client credentials (secret or key) were not given, if so.
pub fn missing_credentials(ctx: &Ctx, profile: &Profile) -> Option<CliError> {
    let method = profile.auth_method();
    if needs_secret(method) && ctx.secret.is_none() {
        return Some(missing_secret(&profile.client_id, method));
    }
    if method == AuthMethod::PrivateKeyJwt && ctx.private_key.is_none() {
        return Some(missing_key(&profile.client_id));
    }
    if method.is_mutual_tls() && ctx.tls_identity.is_none() {
        return Some(missing_identity(&profile.client_id, method));
    }
    None
}

/// The message for an mTLS profile or login without its certificate.
pub fn missing_identity(client_id: &str, method: AuthMethod) -> CliError {
    CliError::usage(format!(
        "client `{client_id}` authenticates with {} and no certificate was given: set GRANTKIT_TLS_IDENTITY to the PEM file of the certificate and its key (or pass --tls-identity FILE)",
        method.as_str()
    ))
}

/// The message for a `private_key_jwt` profile used without its key.
pub fn missing_key(client_id: &str) -> CliError {
    CliError::usage(format!(
        "client `{client_id}` authenticates with private_key_jwt and no key was given: set GRANTKIT_PRIVATE_KEY to the key file (or pass --private-key FILE)"
    ))
}

/// The message for a confidential profile used without its secret.
pub fn missing_secret(client_id: &str, method: AuthMethod) -> CliError {
    if method.is_mutual_tls() {
        return missing_identity(client_id, method);
    }
    if method == AuthMethod::PrivateKeyJwt {
        return CliError::usage(format!(
            "client `{client_id}` authenticates with private_key_jwt and no key was given: pass --private-key FILE (PEM or JWK), or --auth-method none for a public client"
        ));
    }
    CliError::usage(format!(
        "client `{client_id}` authenticates with {} and no secret was given: set GRANTKIT_CLIENT_SECRET (or pass --client-secret), or --auth-method none for a public client",
        method.as_str()
    ))
}

/// The client of a logged-in profile, from its recorded endpoints (no network).
pub fn client_for(ctx: &Ctx, profile: &Profile) -> CliResult<Client> {
    let relogin = ctx.relogin(profile);
    let method = profile.auth_method();
    let mut builder = Client::builder(profile.provider.clone(), profile.client_id.clone())
        .auth_method(method)
        .scopes(profile.scopes.clone());
    if !profile.redirect_uri.is_empty() {
        builder = builder.redirect_uri(profile.redirect_uri.clone());
    }
    if needs_secret(method) {
        let secret = ctx
            .secret
            .clone()
            .ok_or_else(|| missing_secret(&profile.client_id, method))?;
        builder = builder.client_secret(secret);
    }
    if method == AuthMethod::PrivateKeyJwt {
        let key = ctx
            .client_key()?
            .ok_or_else(|| missing_key(&profile.client_id))?;
        builder = builder.private_key(key);
    }
    if method.is_mutual_tls() && ctx.tls_identity.is_none() {
        return Err(missing_identity(&profile.client_id, method));
    }
    if let Some(identity) = ctx.tls_identity()? {
        builder = builder.tls_identity(identity);
    }
    if let Some(ca) = ctx.ca_cert()? {
        builder = builder.root_certificate(ca);
    }
    builder
        .build()
        .map_err(|e| CliError::from_grantkit(&e, &relogin))
}

/// The token source of a logged-in profile: the tokens in its file, refreshed through `client`.
pub async fn source_for(ctx: &Ctx, profile: &Profile, client: Client) -> CliResult<TokenSource> {
    TokenSource::builder(client)
        .store(ctx.paths.store())
        // A command exits right after its call: a background refresh would be cancelled with
        // the runtime, possibly after the provider rotated the refresh token, losing it.
        .refresh_ahead(Duration::ZERO)
        .build()
        .await
        .map_err(|e| CliError::from_grantkit(&e, &ctx.relogin(profile)))
}

/// Builds the authorization request for the listener's redirect URI.
pub fn start_authorization(
    client: &Client,
    listener: &Loopback,
    scopes: &[String],
    params: &[(String, String)],
) -> CliResult<(Url, PendingAuthorization)> {
    let mut request = client
        .authorize()
        .scopes(scopes.iter().cloned())
        .redirect_uri(listener.redirect_uri());
    for (name, value) in params {
        request = if name == "prompt" {
            request.prompt(value.clone())
        } else {
            request.param(name.clone(), value.clone())
        };
    }
    request
        .build()
        .map_err(|e| CliError::from_grantkit(&e, "grantkit login"))
}

/// Waits on the listener for this login's callback; refused requests are reported as warnings.
/// The browser's page waits for the [`Answer`]: send it once the code exchange is done.
pub async fn wait_for_callback(
    out: &Out,
    listener: Loopback,
    pending: &PendingAuthorization,
    timeout: Duration,
) -> CliResult<(AuthorizationCode, Answer)> {
    let redirect = listener.redirect_uri();
    listener
        .wait(pending, timeout, |note| out.warn(note))
        .await
        .map_err(|e| match e {
            WaitError::Timeout(t) => CliError::new(
                Exit::LoginIncomplete,
                format!(
                    "no login came back to {redirect} within {}: if the browser shows the provider's error page (a redirect URI mismatch), the provider does not accept {redirect}: register it there, or register a fixed port's URI and pass --redirect-port PORT; otherwise run the command again and finish the login in the browser (or raise --timeout)",
                    crate::output::words(t)
                ),
            ),
            WaitError::Callback(e) => CliError::from_grantkit(&e, "grantkit login"),
        })
}

/// The line `login` prints before the browser: the redirect URI the provider must accept, and,
/// with a free port, that only providers following RFC 8252's any-port rule accept it.
pub fn redirect_notice(redirect_uri: &str, fixed_port: bool) -> String {
    if fixed_port {
        format!("The provider must have this redirect URI registered: {redirect_uri}")
    } else {
        format!(
            "The provider must have this redirect URI registered: {redirect_uri} (a free port: \
             providers that ignore the loopback port, RFC 8252 §7.3, accept it; one that compares \
             redirect URIs exactly needs a fixed one, e.g. register http://127.0.0.1:8976/callback \
             and pass --redirect-port 8976)"
        )
    }
}

/// Who the tokens belong to: the validated ID token, completed by userinfo when it lacks the
/// email and name (best effort: a failing userinfo only leaves them unknown).
pub async fn identify(client: &Client, tokens: &TokenSet) -> Identity {
    let mut who = Identity::default();
    if let Some(claims) = tokens.id_token_claims() {
        who.subject = Some(claims.sub.clone());
        who.email = claims.email.clone();
        who.name = claims.name.clone();
    }
    let has_userinfo = client
        .provider()
        .endpoint(grantkit::Endpoint::Userinfo)
        .is_ok();
    if has_userinfo && (who.email.is_none() || who.name.is_none()) {
        if let Ok(Ok(info)) =
            tokio::time::timeout(Duration::from_secs(10), client.userinfo(tokens)).await
        {
            who.subject.get_or_insert(info.sub);
            who.email = who.email.or(info.email);
            who.name = who.name.or(info.name);
        }
    }
    who
}

/// Prints a JSON value on stdout.
// A `Value` has only string keys, so serializing it cannot fail.
#[allow(clippy::expect_used)]
pub fn print_json(value: &serde_json::Value) {
    crate::output::print_stdout(
        &serde_json::to_string_pretty(value).expect("JSON values serialize"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::profile::{ProviderRecord, FORMAT};
    use clap::Parser;

    /// Before, a `private_key_jwt` client (Keycloak lists it first) was told to set a secret.
    #[test]
    fn a_missing_credential_is_named_by_the_method() {
        let key = missing_secret("c", AuthMethod::PrivateKeyJwt);
        assert!(key.message().contains("--private-key"), "{}", key.message());
        assert!(
            !key.message().contains("GRANTKIT_CLIENT_SECRET"),
            "{}",
            key.message()
        );
        let secret = missing_secret("c", AuthMethod::ClientSecretBasic);
        assert!(secret.message().contains("GRANTKIT_CLIENT_SECRET"));
        assert!(secret.message().contains("--auth-method none"));
    }

    /// Before, `tls_client_auth` and `self_signed_tls_client_auth` were told to set a secret,
    /// and a profile of theirs was refused without one.
    #[test]
    fn mtls_methods_need_a_certificate_not_a_secret() {
        for method in [
            AuthMethod::TlsClientAuth,
            AuthMethod::SelfSignedTlsClientAuth,
        ] {
            assert!(!needs_secret(method), "{method:?}");
            let message = missing_secret("c", method).message().to_owned();
            assert!(message.contains("--tls-identity"), "{message}");
            assert!(!message.contains("GRANTKIT_CLIENT_SECRET"), "{message}");
        }
        assert!(needs_secret(AuthMethod::ClientSecretBasic));
    }

    /// Splits a command as a POSIX shell does.
    fn words(command: &str) -> Vec<String> {
        shlex::split(command).unwrap_or_else(|| panic!("not shell words: {command}"))
    }

    #[test]
    fn relogin_command_parses_back_into_the_same_login_options() {
        let provider = grantkit::Provider::builder("op")
            .issuer("https://op.example")
            .token_endpoint("https://op.example/token")
            .build()
            .unwrap();
        let profile = Profile {
            version: FORMAT,
            selected: ProviderRecord::Issuer {
                issuer: "https://op.example/".into(),
                expected_issuer: Some("https://op.example".into()),
            },
            provider,
            client_id: "my client".into(),
            auth_method: AuthMethod::PrivateKeyJwt,
            scopes: vec!["openid".into(), "email".into()],
            redirect_uri: "http://127.0.0.1:8976/callback".into(),
            device: false,
            redirect_port: Some(8976),
            params: vec!["prompt=consent".into(), "login_hint=a b".into()],
            identity: Identity::default(),
            logged_in_at: 0,
            accesslink: None,
        };
        let ctx = Ctx {
            out: Out::new(),
            paths: Paths::resolve("x", Some(std::path::Path::new("/tmp/g k/work.json"))).unwrap(),
            secret: None,
            private_key: Some(PathBuf::from("/keys/my key.pem")),
            tls_identity: None,
            ca_cert: None,
        };
        let command = ctx.relogin(&profile);
        let cli = Cli::try_parse_from(words(&command)).unwrap_or_else(|e| panic!("{command}: {e}"));
        let Command::Login(args) = cli.command else {
            panic!("not a login: {command}");
        };
        assert_eq!(args.issuer.as_deref(), Some("https://op.example/"));
        assert_eq!(args.expected_issuer.as_deref(), Some("https://op.example"));
        assert_eq!(args.client_id.as_deref(), Some("my client"));
        assert_eq!(args.auth_method.as_deref(), Some("private_key_jwt"));
        assert_eq!(args.scope.as_deref(), Some("openid email"));
        assert_eq!(args.redirect_port, 8976);
        assert_eq!(args.params, profile.params);
        assert!(!args.device);
        assert_eq!(
            cli.profile.token_file.as_deref(),
            Some(std::path::Path::new("/tmp/g k/work.json"))
        );
        assert_eq!(
            cli.profile.private_key.as_deref(),
            Some(std::path::Path::new("/keys/my key.pem"))
        );
    }

    /// The re-login advice of an mTLS profile names the certificate and the CA given to this
    /// command, so the printed command logs in again (the profile stores neither).
    #[test]
    fn mtls_relogin_names_the_tls_identity_and_the_ca_cert() {
        let provider = grantkit::Provider::builder("op")
            .issuer("https://op.example")
            .token_endpoint("https://op.example/token")
            .build()
            .unwrap();
        let profile = Profile {
            version: FORMAT,
            selected: ProviderRecord::Issuer {
                issuer: "https://op.example".into(),
                expected_issuer: None,
            },
            provider,
            client_id: "mtls".into(),
            auth_method: AuthMethod::TlsClientAuth,
            scopes: vec!["openid".into()],
            redirect_uri: "http://127.0.0.1:8976/callback".into(),
            device: false,
            redirect_port: None,
            params: Vec::new(),
            identity: Identity::default(),
            logged_in_at: 0,
            accesslink: None,
        };
        let ctx = Ctx {
            out: Out::new(),
            paths: Paths::resolve("x", Some(std::path::Path::new("/tmp/work.json"))).unwrap(),
            secret: None,
            private_key: None,
            tls_identity: Some(PathBuf::from("/certs/my client.pem")),
            ca_cert: Some(PathBuf::from("/certs/ca.pem")),
        };
        let command = ctx.relogin(&profile);
        let cli = Cli::try_parse_from(words(&command)).unwrap_or_else(|e| panic!("{command}: {e}"));
        let Command::Login(args) = cli.command else {
            panic!("not a login: {command}");
        };
        assert_eq!(args.auth_method.as_deref(), Some("tls_client_auth"));
        assert_eq!(
            cli.profile.tls_identity.as_deref(),
            Some(std::path::Path::new("/certs/my client.pem"))
        );
        assert_eq!(
            cli.profile.ca_cert.as_deref(),
            Some(std::path::Path::new("/certs/ca.pem"))
        );
        assert!(cli.profile.private_key.is_none(), "{command}");
    }
}
