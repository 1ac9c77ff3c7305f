//! Profiles: where a login's tokens and its non-secret metadata live.
//!
//! A profile `NAME` is two files in `<config dir>/grantkit/`:
//! - `NAME.json`: the tokens, written by grantkit's [`FileTokenStore`] (0600, atomic, locked
//!   through `NAME.json.lock`);
//! - `NAME.profile.json`: what the other commands need to use them (the provider itself, in
//!   grantkit's JSON form, and how it was selected; client id, authentication method, scopes,
//!   redirect URI, who logged in). Never the client secret: commands that need it read
//!   `--client-secret` / `GRANTKIT_CLIENT_SECRET`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use grantkit::oidc::ProviderMetadata;
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

/// The format [`Profile::save`] writes. Format 1 (grantkit 0.1) kept a partial copy of the
/// provider; such a profile is refused with the command that logs in again.
pub const FORMAT: u32 = 2;

/// The non-secret metadata of a profile (`NAME.profile.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Format version ([`FORMAT`]).
    pub version: u32,
    /// The provider as selected at login (for the re-login command).
    pub selected: ProviderRecord,
    /// The provider itself at login, whole (endpoints, methods, quirks, discovery origin), so
    /// the other commands need no discovery round trip. Log in again if the provider moves.
    pub provider: Provider,
    /// The client id.
    pub client_id: String,
    /// The client authentication method (`none` for a public client).
    pub auth_method: AuthMethod,
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
    /// The AccessLink API of an AccessLink profile (its user registration is not OAuth).
    pub fn accesslink_endpoints(&self) -> Option<grantkit_polar_accesslink::Endpoints> {
        let ProviderRecord::PolarAccessLink { api, .. } = &self.selected else {
            return None;
        };
        let url = |e| {
            self.provider
                .endpoint(e)
                .map(|u| u.to_string())
                .unwrap_or_default()
        };
        Some(grantkit_polar_accesslink::Endpoints {
            authorization: url(Endpoint::Authorization),
            token: url(Endpoint::Token),
            api: api.clone(),
        })
    }

    /// The client authentication method.
    pub fn auth_method(&self) -> AuthMethod {
        self.auth_method
    }

    /// The command that logs this profile in again, with every choice the login made that is
    /// not a default: run as printed (with the same secret or key given the same way), it
    /// repeats the login.
    pub fn relogin(&self, paths: &Paths) -> String {
        let mut cmd = format!(
            "grantkit login {} --client-id {}",
            self.selected.login_flags(),
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
    /// receive them at the next refresh. A bad value is an error naming the file and the
    /// member; a profile of an earlier format, one saying how to log in again.
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
        check_format(paths, &bytes)?;
        let profile = parse(paths, &bytes)?;
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
    /// provider's discovery starts (reading the provider already applied the policy it was
    /// saved with; this one does not trust the saved origin); and every URL must be https, or
    /// http to a loopback host.
    pub fn check_endpoints(&self) -> grantkit::Result<()> {
        let (location, accesslink_api) = match &self.selected {
            ProviderRecord::Issuer { issuer, .. } => (issuer.clone(), None),
            ProviderRecord::PolarSh { api_base, .. } => (api_base.clone(), None),
            ProviderRecord::PolarAccessLink { api, base } => {
                (base.clone().unwrap_or_else(|| api.clone()), Some(api))
            }
        };
        as_metadata(&self.provider)?.check_endpoints(&location)?;
        let issuer = self.provider.issuer().map(str::to_owned);
        let mut urls = vec![
            ("the provider's location", Some(location)),
            ("issuer", issuer),
            ("the AccessLink API", accesslink_api.cloned()),
        ];
        for (member, endpoint) in ENDPOINTS {
            let url = self.provider.endpoint(endpoint).ok().map(|u| u.to_string());
            urls.push((member, url));
        }
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
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| CliError::failure(format!("could not write the profile: {e}")))?;
        bytes.push(b'\n');
        write_private(&paths.meta, &bytes).map_err(|e| {
            CliError::failure(format!("could not write {}: {e}", paths.meta.display()))
        })
    }
}

/// A profile file larger than this is not one grantkit wrote.
const MAX_PROFILE_BYTES: u64 = 1024 * 1024;

/// Every endpoint a provider can have, by its member name in grantkit's JSON form.
const ENDPOINTS: [(&str, Endpoint); 8] = [
    ("authorization_endpoint", Endpoint::Authorization),
    ("token_endpoint", Endpoint::Token),
    ("userinfo_endpoint", Endpoint::Userinfo),
    ("jwks_uri", Endpoint::Jwks),
    ("revocation_endpoint", Endpoint::Revocation),
    ("introspection_endpoint", Endpoint::Introspection),
    (
        "device_authorization_endpoint",
        Endpoint::DeviceAuthorization,
    ),
    (
        "pushed_authorization_request_endpoint",
        Endpoint::PushedAuthorization,
    ),
];

/// The provider as a discovery document: its JSON form uses the discovery members' names, so
/// the discovery policy reads it as it is (an issuer-less provider gets an empty issuer).
fn as_metadata(provider: &Provider) -> grantkit::Result<ProviderMetadata> {
    let unreadable = |e: serde_json::Error| {
        grantkit::Error::Config(format!("the recorded provider is not a document: {e}"))
    };
    let mut document = serde_json::to_value(provider).map_err(unreadable)?;
    if let Some(members) = document.as_object_mut() {
        members.entry("issuer").or_insert_with(|| "".into());
    }
    serde_json::from_value(document).map_err(unreadable)
}

/// Refuses a profile of another format before reading it as this one: format 1 with the
/// command that logs in again (its shape is too different for a useful member error).
fn check_format(paths: &Paths, bytes: &[u8]) -> CliResult {
    #[derive(Deserialize)]
    struct Format {
        version: u32,
        #[serde(default)]
        provider: Option<serde_json::Value>,
        #[serde(default)]
        client_id: Option<String>,
    }
    // Not even that shape: the full parse below names what is wrong.
    let Ok(found) = serde_json::from_slice::<Format>(bytes) else {
        return Ok(());
    };
    if found.version == FORMAT {
        return Ok(());
    }
    if found.version > FORMAT {
        return Err(CliError::failure(format!(
            "the profile file {} has format {}, from a newer grantkit than this one (format {FORMAT}): use that grantkit, or log in again with this one",
            paths.meta.display(),
            found.version
        )));
    }
    let selected = found
        .provider
        .and_then(|p| serde_json::from_value::<ProviderRecord>(p).ok());
    let command = match (selected, found.client_id) {
        (Some(selected), Some(client_id)) => format!(
            "grantkit login {} --client-id {}{}",
            selected.login_flags(),
            shell_quote(&client_id),
            paths.flags()
        ),
        _ => format!("grantkit login{}", paths.flags()),
    };
    // Exit 1, not 3: `revoke` reads exit 3 as "no profile", and there is one.
    Err(CliError::failure(format!(
        "the profile file {} was written by an earlier grantkit (format {}), which did not save the whole provider: log in again with `{command}` (and the --scope, --auth-method... you used then), or forget it with `grantkit revoke --local-only{}`",
        paths.meta.display(),
        found.version,
        paths.flags()
    )))
}

/// Reads a profile of the current format; an error names the file, the member (its JSON path)
/// and the position.
fn parse(paths: &Paths, bytes: &[u8]) -> CliResult<Profile> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let member = e.path().to_string();
        // serde_json's message ends with the line and column.
        let inner = e.into_inner();
        CliError::failure(format!(
            "the profile file {} is invalid at member `{member}`: {inner}; if you did not change it yourself, delete it and run `grantkit login{}` again",
            paths.meta.display(),
            paths.flags()
        ))
    })
}

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
    fn shell_quoting() {
        assert_eq!(shell_quote("https://x.example/a"), "https://x.example/a");
        assert_eq!(shell_quote("openid email"), "'openid email'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    fn profile(selected: ProviderRecord, provider: Provider) -> Profile {
        Profile {
            version: FORMAT,
            selected,
            provider,
            client_id: "c".into(),
            auth_method: AuthMethod::None,
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

    /// A discovered provider, as discovery builds it: the endpoints are those of the document.
    fn discovered(issuer: &str, token_endpoint: &str) -> Provider {
        let metadata: ProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": issuer, "token_endpoint": token_endpoint,
        }))
        .unwrap();
        metadata.into_provider("p").unwrap()
    }

    fn at_issuer(issuer: &str, token_endpoint: &str) -> grantkit::Result<()> {
        let record = ProviderRecord::Issuer {
            issuer: issuer.into(),
            expected_issuer: None,
        };
        profile(record, discovered(issuer, token_endpoint)).check_endpoints()
    }

    /// Every preset the CLI or a provider crate offers, with how the CLI records its selection.
    fn presets() -> Vec<(ProviderRecord, Provider)> {
        let polar = |sandbox: bool| {
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
            (record, preset.provider().unwrap())
        };
        let accesslink = ProviderRecord::PolarAccessLink {
            api: grantkit_polar_accesslink::API_URL.into(),
            base: None,
        };
        let azure = ProviderRecord::Issuer {
            issuer: "https://login.microsoftonline.com/contoso.example".into(),
            expected_issuer: None,
        };
        let fixture = include_str!("../tests/fixtures/openid-configuration.json");
        let metadata: ProviderMetadata = serde_json::from_str(fixture).unwrap();
        let oidc = ProviderRecord::Issuer {
            issuer: metadata.issuer.clone(),
            expected_issuer: None,
        };
        vec![
            polar(false),
            polar(true),
            (accesslink, grantkit_polar_accesslink::provider()),
            (
                azure,
                grantkit_azure_ad_v1::provider("contoso.example").unwrap(),
            ),
            (oidc, metadata.into_provider("op").unwrap()),
        ]
    }

    /// Paths of a profile in a fresh private directory.
    fn scratch(name: &str) -> Paths {
        let dir =
            std::env::temp_dir().join(format!("grantkit-profile-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        Paths::resolve("x", Some(&dir.join("tokens.json"))).unwrap()
    }

    #[test]
    fn every_preset_round_trips_through_json_and_a_saved_profile() {
        for (selected, provider) in presets() {
            let json = serde_json::to_value(&provider).unwrap();
            let name = provider.name().to_owned();
            let again: Provider = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(serde_json::to_value(&again).unwrap(), json, "{name}");
            let paths = scratch(&name);
            profile(selected, provider).save(&paths).unwrap();
            let loaded = Profile::load(&paths).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(
                serde_json::to_value(&loaded.provider).unwrap(),
                json,
                "{name}"
            );
            let _ = fs::remove_dir_all(paths.meta.parent().unwrap());
        }
    }

    #[test]
    fn a_reloaded_accesslink_profile_keeps_x_user_id_basic_only_and_no_pkce() {
        let (selected, provider) = presets().swap_remove(2);
        let paths = scratch("accesslink");
        profile(selected, provider).save(&paths).unwrap();
        let loaded = Profile::load(&paths).unwrap().provider;
        assert_eq!(loaded.auth_methods(), [AuthMethod::ClientSecretBasic]);
        let quirks = loaded.quirks();
        assert!(!quirks.pkce && !quirks.refresh_tokens);
        assert_eq!(
            quirks.token_fields,
            grantkit_polar_accesslink::quirks().token_fields
        );
        let _ = fs::remove_dir_all(paths.meta.parent().unwrap());
    }

    /// Writes `edit` of a saved AccessLink profile and returns the error of loading it.
    fn load_edited(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> CliError {
        let (selected, provider) = presets().swap_remove(2);
        let paths = scratch(name);
        let mut document = serde_json::to_value(profile(selected, provider)).unwrap();
        edit(&mut document);
        write_private(&paths.meta, document.to_string().as_bytes()).unwrap();
        let e = Profile::load(&paths).unwrap_err();
        let _ = fs::remove_dir_all(paths.meta.parent().unwrap());
        e
    }

    #[test]
    fn a_mistyped_auth_method_in_a_profile_is_refused_naming_the_file_and_member() {
        let e = load_edited("typo", |d| d["auth_method"] = "client_secret_basci".into());
        let message = e.message();
        assert!(message.contains("tokens.profile.json"), "{message}");
        assert!(message.contains("`auth_method`"), "{message}");
        assert!(message.contains("client_secret_basci"), "{message}");
        let e = load_edited("typo-provider", |d| {
            d["provider"]["auth_methods"] = serde_json::json!(["client_secret_basci"])
        });
        assert!(
            e.message().contains("`provider.auth_methods[0]`"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn an_http_public_endpoint_in_a_profile_is_refused_naming_the_file_and_member() {
        let e = load_edited("http", |d| {
            d["provider"]["token_endpoint"] = "http://polarremote.com/v2/oauth2/token".into()
        });
        let message = e.message();
        assert!(message.contains("tokens.profile.json"), "{message}");
        assert!(message.contains("`provider`"), "{message}");
        assert!(message.contains("token_endpoint"), "{message}");
        assert!(message.contains("plain http"), "{message}");
    }

    #[test]
    fn a_format_1_profile_is_refused_with_the_command_that_logs_in_again() {
        let e = load_edited("v1", |d| {
            *d = serde_json::json!({
                "version": 1,
                "provider": {"kind": "polar-accesslink", "api": grantkit_polar_accesslink::API_URL},
                "endpoints": {"name": "polar-accesslink", "pkce": false, "refresh_tokens": false,
                              "public_clients_can_revoke": true},
                "client_id": "my-client",
                "auth_method": "client_secret_basic",
                "scopes": [], "redirect_uri": "", "logged_in_at": 0,
            })
        });
        assert_eq!(e.exit, crate::error::Exit::Failure);
        let message = e.message();
        assert!(message.contains("format 1"), "{message}");
        assert!(
            message.contains("grantkit login --provider polar-accesslink --client-id my-client"),
            "{message}"
        );
        assert!(
            message.contains("grantkit revoke --local-only"),
            "{message}"
        );
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
            profile(record, preset.provider().unwrap())
                .check_endpoints()
                .unwrap();
        }
    }
}
