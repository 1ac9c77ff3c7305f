//! Profiles: where a login's tokens and its non-secret metadata live.
//!
//! A profile `NAME` is two files in `<config dir>/grantkit/`:
//! - `NAME.json`: the tokens, written by grantkit's [`FileTokenStore`] (0600, atomic, locked
//!   through `NAME.json.lock`);
//! - `NAME.profile.json`: what the other commands need to use them (provider and its endpoints,
//!   client id, authentication method, scopes, redirect URI, who logged in). Never the client
//!   secret: commands that need it read `--client-secret` / `GRANTKIT_CLIENT_SECRET`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use grantkit::oidc::ProviderMetadata;
use grantkit::provider::Quirks;
use grantkit::store::{read_private_file, FileTokenStore};
use grantkit::{AuthMethod, Endpoint, Provider};
use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult};
use crate::output::terminal_safe;

/// The two files of a profile.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The profile's name (for messages), or the token file's when `--token-file` was given.
    pub name: String,
    /// Whether the user gave `--token-file`.
    pub explicit_file: bool,
    /// The token file (FileTokenStore).
    pub tokens: PathBuf,
    /// The metadata file.
    pub meta: PathBuf,
}

impl Paths {
    /// Resolves `--profile` / `--token-file`.
    pub fn resolve(profile: &str, token_file: Option<&Path>) -> CliResult<Self> {
        if let Some(file) = token_file {
            let name = file.to_string_lossy();
            let stem = name.strip_suffix(".json").unwrap_or(&name);
            return Ok(Self {
                name: profile.to_owned(),
                explicit_file: true,
                tokens: file.to_path_buf(),
                meta: PathBuf::from(format!("{stem}.profile.json")),
            });
        }
        let valid = !profile.is_empty()
            && !profile.starts_with('.')
            && profile
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !valid {
            return Err(CliError::usage(format!(
                "`{profile}` is not a profile name: use letters, digits, `.`, `_` and `-`"
            )));
        }
        let dir = config_dir().ok_or_else(|| {
            CliError::usage(
                "no configuration directory: set HOME (or XDG_CONFIG_HOME), or pass --token-file PATH",
            )
        })?;
        Ok(Self {
            name: profile.to_owned(),
            explicit_file: false,
            tokens: dir.join(format!("{profile}.json")),
            meta: dir.join(format!("{profile}.profile.json")),
        })
    }

    /// The token store of this profile.
    pub fn store(&self) -> FileTokenStore {
        FileTokenStore::new(&self.tokens)
    }

    /// The flags that select this profile again (`--profile work`, `--token-file f`), with a
    /// leading space, or nothing for the default profile.
    pub fn flags(&self) -> String {
        if self.explicit_file {
            format!(
                " --token-file {}",
                shell_quote(&self.tokens.to_string_lossy())
            )
        } else if self.name != "default" {
            format!(" --profile {}", self.name)
        } else {
            String::new()
        }
    }
}

/// `$XDG_CONFIG_HOME/grantkit`, `$HOME/.config/grantkit`, or `%APPDATA%\grantkit` on Windows.
pub fn config_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if cfg!(windows) {
        if let Some(appdata) = non_empty("APPDATA") {
            return Some(PathBuf::from(appdata).join("grantkit"));
        }
    }
    if let Some(xdg) = non_empty("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(xdg).join("grantkit"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".config").join("grantkit"))
}

/// Quotes a word for a shell command shown to the user, when it needs it.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Which provider a profile logged in to, as the user selected it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProviderRecord {
    /// `--issuer URL`: any OpenID Connect (or RFC 8414) provider, by discovery.
    Issuer {
        /// The issuer URL.
        issuer: String,
        /// `--expected-issuer`, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected_issuer: Option<String>,
    },
    /// `--provider polar-sh` or `polar-sh-sandbox`.
    PolarSh {
        /// `true` for the sandbox.
        sandbox: bool,
        /// The API base (discovery, token...).
        api_base: String,
        /// The web base (authorize).
        web_base: String,
    },
    /// `--provider polar-accesslink`.
    #[serde(rename = "polar-accesslink")]
    PolarAccessLink {
        /// The API base (`.../v3`): registration, deregistration.
        api: String,
        /// The base URL given with `--accesslink-base`, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<String>,
    },
}

impl ProviderRecord {
    /// The flags that select this provider on `grantkit login`.
    pub fn login_flags(&self) -> String {
        match self {
            ProviderRecord::Issuer {
                issuer,
                expected_issuer,
            } => match expected_issuer {
                Some(expected) => format!(
                    "--issuer {} --expected-issuer {}",
                    shell_quote(issuer),
                    shell_quote(expected)
                ),
                None => format!("--issuer {}", shell_quote(issuer)),
            },
            ProviderRecord::PolarSh {
                sandbox,
                api_base,
                web_base,
            } => {
                let preset = if *sandbox {
                    grantkit_polar_sh::PolarSh::sandbox()
                } else {
                    grantkit_polar_sh::PolarSh::production()
                };
                let mut flags = format!(
                    "--provider {}",
                    if *sandbox {
                        "polar-sh-sandbox"
                    } else {
                        "polar-sh"
                    }
                );
                if preset.api_base() != api_base {
                    flags.push_str(&format!(
                        " --polar-api-base {} --polar-web-base {}",
                        shell_quote(api_base),
                        shell_quote(web_base)
                    ));
                }
                flags
            }
            ProviderRecord::PolarAccessLink { base, .. } => match base {
                Some(base) => format!(
                    "--provider polar-accesslink --accesslink-base {}",
                    shell_quote(base)
                ),
                None => "--provider polar-accesslink".to_owned(),
            },
        }
    }
}

/// A snapshot of the provider's endpoints and declared behaviour at login, so the other
/// commands need no discovery round trip. Log in again if the provider moves its endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// The provider's display name.
    pub name: String,
    /// The issuer, for ID-token checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// Token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// Userinfo endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// JWKS URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// Introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// Client authentication methods the provider accepts.
    #[serde(default)]
    pub auth_methods: Vec<String>,
    /// The methods the revocation endpoint accepts, when the provider declared them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_auth_methods: Option<Vec<String>>,
    /// The methods the introspection endpoint accepts, when the provider declared them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_auth_methods: Option<Vec<String>>,
    /// ID-token signing algorithms the provider uses.
    #[serde(default)]
    pub id_token_signing_algs: Vec<String>,
    /// RFC 9207 `iss` on callbacks.
    #[serde(default)]
    pub iss_parameter_supported: bool,
    /// Quirk: PKCE accepted.
    pub pkce: bool,
    /// Quirk: refresh tokens issued.
    pub refresh_tokens: bool,
    /// Quirk: public clients may revoke and introspect.
    pub public_clients_can_revoke: bool,
}

impl Endpoints {
    /// The snapshot of `provider`.
    pub fn of(provider: &Provider) -> Self {
        let url = |e| provider.endpoint(e).ok().map(|u| u.to_string());
        let names = |methods: &[AuthMethod]| -> Vec<String> {
            methods.iter().map(|m| m.as_str().to_owned()).collect()
        };
        let declared = |e| provider.endpoint_auth_methods(e).map(names);
        let quirks = provider.quirks();
        Self {
            name: provider.name().to_owned(),
            issuer: provider.issuer().map(str::to_owned),
            authorization_endpoint: url(Endpoint::Authorization),
            token_endpoint: url(Endpoint::Token),
            userinfo_endpoint: url(Endpoint::Userinfo),
            jwks_uri: url(Endpoint::Jwks),
            revocation_endpoint: url(Endpoint::Revocation),
            introspection_endpoint: url(Endpoint::Introspection),
            auth_methods: names(provider.auth_methods()),
            revocation_auth_methods: declared(Endpoint::Revocation),
            introspection_auth_methods: declared(Endpoint::Introspection),
            id_token_signing_algs: provider.id_token_signing_algs().to_vec(),
            iss_parameter_supported: provider.iss_parameter_supported(),
            pkce: quirks.pkce,
            refresh_tokens: quirks.refresh_tokens,
            public_clients_can_revoke: quirks.public_clients_can_revoke,
        }
    }

    /// The provider again, without a network call.
    pub fn provider(&self) -> grantkit::Result<Provider> {
        let mut builder = Provider::builder(self.name.clone());
        if let Some(issuer) = &self.issuer {
            builder = builder.issuer(issuer.clone());
        }
        for (url, endpoint) in [
            (&self.authorization_endpoint, Endpoint::Authorization),
            (&self.token_endpoint, Endpoint::Token),
            (&self.userinfo_endpoint, Endpoint::Userinfo),
            (&self.jwks_uri, Endpoint::Jwks),
            (&self.revocation_endpoint, Endpoint::Revocation),
            (&self.introspection_endpoint, Endpoint::Introspection),
        ] {
            if let Some(url) = url {
                builder = builder.endpoint(endpoint, url);
            }
        }
        let methods = |names: &[String]| -> Vec<AuthMethod> {
            names
                .iter()
                .filter_map(|m| AuthMethod::from_name(m))
                .collect()
        };
        for (declared, endpoint) in [
            (&self.revocation_auth_methods, Endpoint::Revocation),
            (&self.introspection_auth_methods, Endpoint::Introspection),
        ] {
            if let Some(names) = declared {
                builder = builder.endpoint_auth_methods(endpoint, methods(names));
            }
        }
        let mut quirks = Quirks::default();
        quirks.pkce = self.pkce;
        quirks.refresh_tokens = self.refresh_tokens;
        quirks.public_clients_can_revoke = self.public_clients_can_revoke;
        builder
            .auth_methods(methods(&self.auth_methods))
            .id_token_signing_algs(self.id_token_signing_algs.clone())
            .iss_parameter_supported(self.iss_parameter_supported)
            .quirks(quirks)
            .build()
    }
}

/// Who logged in, as far as the provider said.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The subject (`sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Email, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Identity {
    /// `alice (alice@example.test, Alice)`, or `an unknown user` when the provider said nothing.
    /// Provider text, so [terminal-safe](crate::output::terminal_safe): a newline or an
    /// escape sequence in a name shows instead of acting.
    pub fn describe(&self) -> String {
        let safe = |s: &String| terminal_safe(s).into_owned();
        let extra: Vec<String> = [&self.email, &self.name]
            .into_iter()
            .flatten()
            .map(safe)
            .collect();
        match (self.subject.as_ref().map(safe), extra.is_empty()) {
            (Some(sub), true) => sub,
            (Some(sub), false) => format!("{sub} ({})", extra.join(", ")),
            (None, false) => extra.join(", "),
            (None, true) => "an unknown user (the provider did not say who)".to_owned(),
        }
    }
}

/// The non-secret metadata of a profile (`NAME.profile.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Format version.
    pub version: u32,
    /// The provider as selected at login.
    pub provider: ProviderRecord,
    /// Its endpoints at login.
    pub endpoints: Endpoints,
    /// The client id.
    pub client_id: String,
    /// The client authentication method (`none` for a public client).
    pub auth_method: String,
    /// The scopes requested.
    pub scopes: Vec<String>,
    /// The loopback redirect URI used (empty after a device login).
    pub redirect_uri: String,
    /// Logged in with the device flow (`grantkit login --device`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub device: bool,
    /// The port given with `--redirect-port`, if one was (none: a free port each time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_port: Option<u16>,
    /// The `--param NAME=VALUE` values given, as given (for the re-login command).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
    /// Who logged in.
    #[serde(default)]
    pub identity: Identity,
    /// When, in seconds since the Unix epoch.
    pub logged_in_at: u64,
    /// Polar AccessLink: the user and their registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accesslink: Option<AccessLinkUser>,
}

/// The AccessLink user of a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLinkUser {
    /// `x_user_id`: the Polar user id.
    pub user_id: u64,
    /// The member-id the user is registered under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    /// Whether the user was registered (`false` after `--no-register`).
    pub registered: bool,
}

impl Profile {
    /// The provider, without a network call: the preset itself for AccessLink (its declared
    /// token fields included), the recorded endpoints otherwise.
    pub fn provider(&self) -> grantkit::Result<Provider> {
        match self.accesslink_endpoints() {
            Some(endpoints) => endpoints.provider(),
            None => self.endpoints.provider(),
        }
    }

    /// The AccessLink endpoints of an AccessLink profile.
    pub fn accesslink_endpoints(&self) -> Option<grantkit_polar_accesslink::Endpoints> {
        match &self.provider {
            ProviderRecord::PolarAccessLink { api, .. } => {
                Some(grantkit_polar_accesslink::Endpoints {
                    authorization: self
                        .endpoints
                        .authorization_endpoint
                        .clone()
                        .unwrap_or_default(),
                    token: self.endpoints.token_endpoint.clone().unwrap_or_default(),
                    api: api.clone(),
                })
            }
            _ => None,
        }
    }

    /// The client authentication method.
    pub fn auth_method(&self) -> AuthMethod {
        AuthMethod::from_name(&self.auth_method).unwrap_or(AuthMethod::None)
    }

    /// The command that logs this profile in again, with every choice the login made that is
    /// not a default: run as printed (with the same secret or key given the same way), it
    /// repeats the login.
    pub fn relogin(&self, paths: &Paths) -> String {
        let mut cmd = format!(
            "grantkit login {} --client-id {}",
            self.provider.login_flags(),
            shell_quote(&self.client_id)
        );
        // `none` is what a login without a secret picks; any other method may not be what
        // the provider's preference or the key would pick again.
        if self.auth_method() != AuthMethod::None {
            cmd.push_str(&format!(" --auth-method {}", self.auth_method().as_str()));
        }
        if self.device {
            cmd.push_str(" --device");
        }
        if let Some(port) = self.redirect_port {
            cmd.push_str(&format!(" --redirect-port {port}"));
        }
        if !self.scopes.is_empty() {
            cmd.push_str(&format!(" --scope {}", shell_quote(&self.scopes.join(" "))));
        }
        for param in &self.params {
            cmd.push_str(&format!(" --param {}", shell_quote(param)));
        }
        cmd.push_str(&paths.flags());
        cmd
    }

    /// Reads the metadata of `paths`; a missing file means "log in first" (exit 3).
    ///
    /// The file says where the refresh token and the client secret are sent, so it gets the
    /// token file's checks (grantkit's [`read_private_file`]: not a link, a regular file of the
    /// current user, mode 0600, in a directory only they can write) and its endpoints are
    /// checked again ([`Profile::check_endpoints`]): whoever could replace it would otherwise
    /// receive them at the next refresh.
    pub fn load(paths: &Paths) -> CliResult<Self> {
        let relogin = || format!("delete it and run `grantkit login{}` again", paths.flags());
        let bytes = match read_private_file(&paths.meta, MAX_PROFILE_BYTES) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Err(CliError::reauthorize(format!(
                    "profile `{}` is not logged in (no {}): run `grantkit login{}` first",
                    paths.name,
                    paths.meta.display(),
                    paths.flags()
                )))
            }
            Err(e) => {
                return Err(CliError::failure(format!(
                    "the profile file {} is not safe to use ({e}); if you did not change it yourself, {}",
                    paths.meta.display(),
                    relogin()
                )))
            }
        };
        let profile: Self = serde_json::from_slice(&bytes).map_err(|e| {
            CliError::failure(format!(
                "the profile file {} is not readable (invalid at line {} column {}): {}",
                paths.meta.display(),
                e.line(),
                e.column(),
                relogin()
            ))
        })?;
        profile.check_endpoints().map_err(|e| {
            CliError::failure(format!(
                "the profile file {} records an endpoint grantkit refuses to call ({e}): {}",
                paths.meta.display(),
                relogin()
            ))
        })?;
        Ok(profile)
    }

    /// Checks the recorded endpoints with the policy grantkit applies to discovery documents
    /// ([`ProviderMetadata::check_endpoints`]), as if the document had come from where this
    /// provider's discovery starts; and every URL must be https, or http to a loopback host.
    pub fn check_endpoints(&self) -> grantkit::Result<()> {
        let e = &self.endpoints;
        let (location, accesslink_api) = match &self.provider {
            ProviderRecord::Issuer { issuer, .. } => (issuer.clone(), None),
            ProviderRecord::PolarSh { api_base, .. } => (api_base.clone(), None),
            ProviderRecord::PolarAccessLink { api, base } => {
                (base.clone().unwrap_or_else(|| api.clone()), Some(api))
            }
        };
        let metadata: ProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": e.issuer.clone().unwrap_or_default(),
            "authorization_endpoint": e.authorization_endpoint,
            "token_endpoint": e.token_endpoint,
            "userinfo_endpoint": e.userinfo_endpoint,
            "jwks_uri": e.jwks_uri,
            "revocation_endpoint": e.revocation_endpoint,
            "introspection_endpoint": e.introspection_endpoint,
        }))
        .map_err(|_| grantkit::Error::Config("the recorded endpoints are not strings".into()))?;
        metadata.check_endpoints(&location)?;
        let urls = [
            ("the provider's location", Some(&location)),
            ("issuer", e.issuer.as_ref()),
            ("authorization_endpoint", e.authorization_endpoint.as_ref()),
            ("token_endpoint", e.token_endpoint.as_ref()),
            ("userinfo_endpoint", e.userinfo_endpoint.as_ref()),
            ("jwks_uri", e.jwks_uri.as_ref()),
            ("revocation_endpoint", e.revocation_endpoint.as_ref()),
            ("introspection_endpoint", e.introspection_endpoint.as_ref()),
            ("the AccessLink API", accesslink_api),
        ];
        for (field, url) in urls {
            if let Some(url) = url.filter(|u| !https_or_loopback(u)) {
                return Err(grantkit::Error::UnsafeEndpoint {
                    field: field.to_owned(),
                    reason: format!("neither https nor http to a loopback address (`{url}`)"),
                });
            }
        }
        Ok(())
    }

    /// Writes the metadata atomically, mode 0600, in a 0700 directory.
    pub fn save(&self, paths: &Paths) -> CliResult {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a profile serializes");
        bytes.push(b'\n');
        write_private(&paths.meta, &bytes).map_err(|e| {
            CliError::failure(format!("could not write {}: {e}", paths.meta.display()))
        })
    }
}

/// A profile file larger than this is not one grantkit wrote.
const MAX_PROFILE_BYTES: u64 = 1024 * 1024;

/// `https:`, or `http:` to `localhost` or a loopback address (a provider on this machine).
fn https_or_loopback(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Domain(d))) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}

/// Atomic private write: a temporary file (0600) in the same directory, then a rename.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "profile".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes a file; a missing one is fine.
pub fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_and_metadata_paths() {
        let p = Paths::resolve("x", Some(Path::new("/tmp/a/tokens.json"))).unwrap();
        assert_eq!(p.meta, Path::new("/tmp/a/tokens.profile.json"));
        let p = Paths::resolve("x", Some(Path::new("/tmp/a/tok"))).unwrap();
        assert_eq!(p.meta, Path::new("/tmp/a/tok.profile.json"));
        assert!(Paths::resolve("../etc", None).is_err());
        assert!(Paths::resolve(".hidden", None).is_err());
    }

    #[test]
    fn endpoints_round_trip_into_a_provider() {
        let provider = grantkit_polar_sh::PolarSh::sandbox().provider().unwrap();
        let snapshot = Endpoints::of(&provider);
        let again = snapshot.provider().unwrap();
        assert_eq!(Endpoints::of(&again), snapshot);
        assert!(!snapshot.public_clients_can_revoke);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("https://x.example/a"), "https://x.example/a");
        assert_eq!(shell_quote("openid email"), "'openid email'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    fn profile(provider: ProviderRecord, endpoints: Endpoints) -> Profile {
        Profile {
            version: 1,
            provider,
            endpoints,
            client_id: "c".into(),
            auth_method: "none".into(),
            scopes: vec![],
            redirect_uri: String::new(),
            device: false,
            redirect_port: None,
            params: vec![],
            identity: Identity::default(),
            logged_in_at: 0,
            accesslink: None,
        }
    }

    fn at_issuer(issuer: &str, token_endpoint: &str) -> grantkit::Result<()> {
        let provider = Provider::builder("p")
            .issuer(issuer)
            .token_endpoint(token_endpoint)
            .build()
            .unwrap();
        let record = ProviderRecord::Issuer {
            issuer: issuer.into(),
            expected_issuer: None,
        };
        profile(record, Endpoints::of(&provider)).check_endpoints()
    }

    #[test]
    fn profile_endpoints_are_rechecked_https_or_loopback_http_and_the_discovery_policy() {
        assert!(at_issuer("https://op.example", "https://api.op.example/token").is_ok());
        assert!(at_issuer("http://127.0.0.1:8080", "http://127.0.0.1:8080/token").is_ok());
        assert!(at_issuer("http://localhost:8080", "http://localhost:8080/token").is_ok());
        assert!(at_issuer("http://[::1]:8080", "http://[::1]:8080/token").is_ok());
        for (issuer, token_endpoint) in [
            // Plain http off this machine: the refresh token and secret in clear.
            ("http://op.example", "http://op.example/token"),
            ("https://op.example", "http://op.example/token"),
            // A public provider pointing at this machine's own services.
            ("https://op.example", "http://127.0.0.1:9/token"),
            ("https://op.example", "https://10.0.0.1/token"),
            // Cloud metadata.
            ("https://op.example", "https://169.254.169.254/latest"),
            ("https://op.example", "file:///etc/passwd"),
        ] {
            let e = at_issuer(issuer, token_endpoint).unwrap_err();
            assert!(
                matches!(e, grantkit::Error::UnsafeEndpoint { .. }),
                "{issuer} {token_endpoint}: {e:?}"
            );
        }
        for sandbox in [false, true] {
            let preset = if sandbox {
                grantkit_polar_sh::PolarSh::sandbox()
            } else {
                grantkit_polar_sh::PolarSh::production()
            };
            let record = ProviderRecord::PolarSh {
                sandbox,
                api_base: preset.api_base().to_owned(),
                web_base: String::new(),
            };
            let endpoints = Endpoints::of(&preset.provider().unwrap());
            profile(record, endpoints).check_endpoints().unwrap();
        }
    }
}
