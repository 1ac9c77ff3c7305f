//! Which provider `grantkit login` talks to: a preset (`--provider`) or any issuer (`--issuer`).
//!
//! A preset is one entry of [`PRESETS`] and one arm of [`Preset`]; everything else (discovery,
//! default scopes, what is recorded in the profile) is decided here.

use grantkit::oidc::Discovery;
use grantkit::Provider;
use grantkit_polar_sh::PolarSh;

use crate::error::{CliError, CliResult};
use crate::profile::ProviderRecord;

/// The presets `--provider` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the products' names
pub enum Preset {
    /// Polar.sh production.
    PolarSh,
    /// Polar.sh sandbox.
    PolarShSandbox,
    /// Polar AccessLink (Polar Electro's fitness data API).
    PolarAccessLink,
}

/// `--provider` names, their preset and a one-line description.
pub const PRESETS: [(&str, Preset, &str); 3] = [
    (
        "polar-sh",
        Preset::PolarSh,
        "Polar.sh, the merchant platform (OpenID Connect)",
    ),
    (
        "polar-sh-sandbox",
        Preset::PolarShSandbox,
        "Polar.sh's sandbox environment",
    ),
    (
        "polar-accesslink",
        Preset::PolarAccessLink,
        "Polar AccessLink, Polar Electro's fitness data API (OAuth 2.0)",
    ),
];

/// Parses a `--provider` value with a message that says what to use instead.
pub fn parse_preset(name: &str) -> Result<Preset, String> {
    PRESETS
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, p, _)| *p)
        .ok_or_else(|| {
            let names: Vec<&str> = PRESETS.iter().map(|(n, _, _)| *n).collect();
            format!(
                "unknown provider: use one of {}, or --issuer URL for any other OpenID Connect provider",
                names.join(", ")
            )
        })
}

/// The provider flags of `grantkit login`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags<'a> {
    /// `--provider`.
    pub preset: Option<Preset>,
    /// `--issuer`.
    pub issuer: Option<&'a str>,
    /// `--expected-issuer`.
    pub expected_issuer: Option<&'a str>,
    /// `--polar-api-base`.
    pub polar_api_base: Option<&'a str>,
    /// `--polar-web-base`.
    pub polar_web_base: Option<&'a str>,
    /// `--accesslink-base`.
    pub accesslink_base: Option<&'a str>,
}

/// The provider selected on the command line, before discovery.
#[derive(Clone, Debug)]
pub enum Selected {
    /// `--issuer URL`.
    Issuer {
        /// Where discovery starts.
        issuer: String,
        /// `--expected-issuer`: the issuer the document must name, when not `issuer`.
        expected: Option<String>,
    },
    /// A Polar.sh environment (possibly pointed elsewhere with `--polar-api-base`).
    PolarSh {
        /// Sandbox or production.
        sandbox: bool,
        /// The endpoints' hosts.
        polar: PolarSh,
        /// The web base, as given.
        web_base: String,
    },
    /// Polar AccessLink (possibly pointed elsewhere with `--accesslink-base`).
    AccessLink {
        /// Its endpoints.
        endpoints: grantkit_polar_accesslink::Endpoints,
        /// The base URL given with `--accesslink-base`.
        base: Option<String>,
    },
}

impl Selected {
    /// Resolves `--provider` / `--issuer` and the Polar base-URL overrides.
    pub fn from_flags(flags: Flags<'_>) -> CliResult<Self> {
        let Flags {
            preset,
            issuer,
            expected_issuer,
            polar_api_base,
            polar_web_base,
            accesslink_base,
        } = flags;
        if expected_issuer.is_some() && issuer.is_none() {
            return Err(CliError::usage(
                "--expected-issuer goes with --issuer: add --issuer URL, or drop it",
            ));
        }
        if accesslink_base.is_some() && preset != Some(Preset::PolarAccessLink) {
            return Err(CliError::usage(
                "--accesslink-base / GRANTKIT_ACCESSLINK_BASE only applies to --provider polar-accesslink; unset it",
            ));
        }
        if polar_api_base.is_some() && preset == Some(Preset::PolarAccessLink) {
            return Err(CliError::usage(
                "--polar-api-base / GRANTKIT_POLAR_API_BASE only applies to --provider polar-sh or polar-sh-sandbox; for AccessLink use --accesslink-base",
            ));
        }
        if polar_api_base.is_none() && polar_web_base.is_some() {
            return Err(CliError::usage(
                "--polar-web-base needs --polar-api-base too (GRANTKIT_POLAR_API_BASE)",
            ));
        }
        let polar_only = |what: &str| {
            CliError::usage(format!(
                "--polar-api-base / GRANTKIT_POLAR_API_BASE only applies to --provider polar-sh or polar-sh-sandbox, not to {what}; unset it"
            ))
        };
        match (preset, issuer) {
            (Some(_), Some(_)) => Err(CliError::usage(
                "give either --provider or --issuer, not both",
            )),
            (None, None) => Err(CliError::usage(
                "say which provider to log in to: --provider polar-sh | polar-sh-sandbox | polar-accesslink, or --issuer URL for any OpenID Connect provider",
            )),
            (None, Some(issuer)) => {
                if polar_api_base.is_some() {
                    return Err(polar_only("--issuer"));
                }
                let parsed = url::Url::parse(issuer).map_err(|e| {
                    CliError::usage(format!(
                        "--issuer `{issuer}` is not a URL ({e}): give the provider's issuer, e.g. https://accounts.example.com"
                    ))
                })?;
                if !matches!(parsed.scheme(), "https" | "http") {
                    return Err(CliError::usage(format!(
                        "--issuer `{issuer}` must be an https:// URL"
                    )));
                }
                Ok(Selected::Issuer {
                    issuer: issuer.to_owned(),
                    expected: expected_issuer.map(str::to_owned),
                })
            }
            (Some(Preset::PolarSh | Preset::PolarShSandbox), None) => {
                let sandbox = preset == Some(Preset::PolarShSandbox);
                let default = if sandbox {
                    PolarSh::sandbox()
                } else {
                    PolarSh::production()
                };
                let (polar, web_base) = match polar_api_base {
                    Some(api) => {
                        let web = polar_web_base.unwrap_or(api);
                        for (flag, value) in [("--polar-api-base", api), ("--polar-web-base", web)] {
                            url::Url::parse(value).map_err(|e| {
                                CliError::usage(format!("{flag} `{value}` is not a URL ({e})"))
                            })?;
                        }
                        (PolarSh::custom(api, web), web.trim_end_matches('/').to_owned())
                    }
                    None => {
                        let web = if sandbox {
                            "https://sandbox.polar.sh"
                        } else {
                            "https://polar.sh"
                        };
                        (default, web.to_owned())
                    }
                };
                Ok(Selected::PolarSh {
                    sandbox,
                    polar,
                    web_base,
                })
            }
            (Some(Preset::PolarAccessLink), None) => {
                let endpoints = match accesslink_base {
                    Some(base) => {
                        url::Url::parse(base).map_err(|e| {
                            CliError::usage(format!("--accesslink-base `{base}` is not a URL ({e})"))
                        })?;
                        grantkit_polar_accesslink::Endpoints::at(base)
                    }
                    None => grantkit_polar_accesslink::Endpoints::production(),
                };
                Ok(Selected::AccessLink {
                    endpoints,
                    base: accesslink_base.map(|b| b.trim_end_matches('/').to_owned()),
                })
            }
        }
    }

    /// What the profile records.
    pub fn record(&self) -> ProviderRecord {
        match self {
            Selected::Issuer { issuer, expected } => ProviderRecord::Issuer {
                issuer: issuer.clone(),
                expected_issuer: expected.clone(),
            },
            Selected::PolarSh {
                sandbox,
                polar,
                web_base,
            } => ProviderRecord::PolarSh {
                sandbox: *sandbox,
                api_base: polar.api_base().to_owned(),
                web_base: web_base.clone(),
            },
            Selected::AccessLink { endpoints, base } => ProviderRecord::PolarAccessLink {
                api: endpoints.api.clone(),
                base: base.clone(),
            },
        }
    }

    /// Where discovery goes, for messages.
    pub fn location(&self) -> String {
        match self {
            Selected::Issuer { issuer, .. } => issuer.clone(),
            Selected::PolarSh { polar, .. } => polar.api_base().to_owned(),
            Selected::AccessLink { endpoints, .. } => endpoints.token.clone(),
        }
    }

    /// Fetches the provider's metadata (issuer checked), trusting `ca` too when given
    /// (`--ca-cert`, a provider behind a private CA). Only an issuer's discovery takes it: the
    /// presets' providers are public.
    pub async fn discover(&self, ca: Option<&reqwest::Certificate>) -> grantkit::Result<Provider> {
        match self {
            Selected::Issuer { issuer, expected } => {
                let mut discovery = Discovery::new(issuer.clone());
                if let Some(expected) = expected {
                    discovery = discovery.expected_issuer(expected.clone());
                }
                if let Some(ca) = ca {
                    discovery = discovery.root_certificate(ca.clone());
                }
                discovery.fetch().await
            }
            Selected::PolarSh { polar, .. } => polar.discover().await,
            // No discovery document: the preset's endpoints.
            Selected::AccessLink { endpoints, .. } => endpoints.provider(),
        }
    }

    /// The scopes asked for when `--scope` is not given.
    pub fn default_scopes(&self, provider: &Provider) -> Vec<String> {
        match self {
            Selected::Issuer { .. } => {
                let supported = provider
                    .metadata()
                    .map(|m| m.scopes_supported.clone())
                    .unwrap_or_default();
                let mut scopes = vec!["openid".to_owned()];
                for scope in ["email", "profile"] {
                    if supported.is_empty() || supported.iter().any(|s| s == scope) {
                        scopes.push(scope.to_owned());
                    }
                }
                scopes
            }
            Selected::PolarSh { .. } => vec!["openid".into(), "email".into(), "profile".into()],
            Selected::AccessLink { .. } => vec![grantkit_polar_accesslink::SCOPE.to_owned()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_unknown_names_say_what_to_use() {
        assert_eq!(parse_preset("polar-sh"), Ok(Preset::PolarSh));
        assert_eq!(parse_preset("Polar-SH-Sandbox"), Ok(Preset::PolarShSandbox));
        let e = parse_preset("github").unwrap_err();
        assert!(
            e.contains("polar-sh, polar-sh-sandbox, polar-accesslink"),
            "{e}"
        );
        assert!(e.contains("--issuer"), "{e}");
    }

    #[test]
    fn provider_flags_are_checked() {
        let flags = |preset, issuer, polar_api_base, accesslink_base| Flags {
            preset,
            issuer,
            expected_issuer: None,
            polar_api_base,
            polar_web_base: None,
            accesslink_base,
        };
        let polar = Some(Preset::PolarSh);
        let accesslink = Some(Preset::PolarAccessLink);
        assert!(Selected::from_flags(flags(None, None, None, None)).is_err());
        assert!(Selected::from_flags(flags(polar, Some("https://x"), None, None)).is_err());
        assert!(Selected::from_flags(flags(None, Some("not a url"), None, None)).is_err());
        assert!(
            Selected::from_flags(flags(None, Some("https://x"), Some("http://y"), None)).is_err()
        );
        assert!(Selected::from_flags(flags(polar, None, None, Some("http://y"))).is_err());
        assert!(Selected::from_flags(flags(accesslink, None, Some("http://y"), None)).is_err());
        let a = Selected::from_flags(flags(accesslink, None, None, Some("http://127.0.0.1:9")));
        assert_eq!(
            a.unwrap().record(),
            ProviderRecord::PolarAccessLink {
                api: "http://127.0.0.1:9/v3".into(),
                base: Some("http://127.0.0.1:9".into())
            }
        );
        let s = Selected::from_flags(flags(polar, None, Some("http://127.0.0.1:9/"), None));
        assert_eq!(
            s.unwrap().record(),
            ProviderRecord::PolarSh {
                sandbox: false,
                api_base: "http://127.0.0.1:9".into(),
                web_base: "http://127.0.0.1:9".into()
            }
        );
    }
}
