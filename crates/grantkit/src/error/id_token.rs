//! [`IdTokenError`]: which check of OpenID Connect Core §3.1.3.7 an ID token failed.

/// Why an ID token was refused. Each variant is one check of OpenID Connect Core §3.1.3.7.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// `openid` was requested (a nonce was sent) but the token response has no `id_token`.
    #[error("the token response carries no ID token although `openid` was requested")]
    Missing,
    /// Not a three-part JWS, or a part is not base64url JSON.
    #[error("the ID token is malformed: {0}")]
    Malformed(String),
    /// `alg: none` — an unsigned token.
    #[error("the ID token is unsigned (`alg: none`); refused")]
    Unsigned,
    /// An HMAC `alg`: with a public key as the secret this is the classic key-confusion attack.
    #[error("the ID token uses the symmetric `{0}`; only asymmetric signatures are accepted")]
    Symmetric(String),
    /// An `alg` outside the provider's advertised list or grantkit's supported set.
    #[error("the ID token is signed with `{alg}`, which is not allowed (allowed: {allowed})")]
    AlgorithmNotAllowed {
        /// The token's `alg`.
        alg: String,
        /// The algorithms accepted.
        allowed: String,
    },
    /// The `kid` is not in the JWKS, even after re-fetching it.
    #[error("the ID token names key `{kid}`, which the provider's JWKS does not hold (even after a re-fetch)")]
    UnknownKey {
        /// The token's `kid`.
        kid: String,
    },
    /// No key in the JWKS can verify this `alg`.
    #[error("the provider's JWKS has no key for `{0}`")]
    NoKeyForAlgorithm(String),
    /// The signature does not verify with the provider's key(s).
    #[error("the ID token's signature is invalid")]
    BadSignature,
    /// `iss` is not the provider's issuer.
    #[error("the ID token was issued by `{found}`, expected `{expected}`")]
    IssuerMismatch {
        /// The provider's issuer.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// `aud` does not contain this client.
    #[error("the ID token is for audience {found:?}, not for client `{client_id}`")]
    AudienceMismatch {
        /// This client's id.
        client_id: String,
        /// The token's audiences.
        found: Vec<String>,
    },
    /// Several audiences and no `azp`.
    #[error("the ID token has several audiences but no `azp`")]
    MissingAzp,
    /// `azp` names another client.
    #[error("the ID token's `azp` is `{0}`, not this client")]
    AzpMismatch(String),
    /// `exp` has passed (beyond the leeway).
    #[error("the ID token expired at {exp} (now {now}, leeway included); check the clock")]
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The time of the check.
        now: i64,
    },
    /// `iat` lies in the future (beyond the leeway).
    #[error(
        "the ID token claims to be issued at {iat}, in the future (now {now}); check the clock"
    )]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The time of the check.
        now: i64,
    },
    /// A required claim (`iss`, `sub`, `aud`, `exp`, `iat`) is missing or of the wrong type.
    #[error("the ID token lacks the required claim `{0}`")]
    MissingClaim(&'static str),
    /// The `nonce` differs from the one sent: a replayed or injected token.
    #[error("the ID token's nonce does not match this login (replay or injection?)")]
    NonceMismatch,
    /// A nonce was sent but the token carries none.
    #[error("a nonce was sent but the ID token carries none")]
    MissingNonce,
    /// `at_hash` does not match the access token: the two were not issued together.
    #[error("the ID token's at_hash does not match the access token")]
    AtHashMismatch,
    /// A refreshed ID token names another subject (OpenID Connect Core §12.2).
    #[error("the refreshed ID token is for another subject")]
    SubjectChanged,
    /// `nbf` lies in the future (beyond the leeway): the token is not valid yet.
    #[error("the ID token is not valid before {nbf} (now {now}); check the clock")]
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The time of the check.
        now: i64,
    },
    /// A refreshed ID token differs from the original in a claim OpenID Connect Core §12.2
    /// says must stay the same (`iss`, `aud`, `azp`, `auth_time`, `nonce`), or its `iat` is
    /// older than the original's.
    #[error("the refreshed ID token changed `{0}`, which OpenID Connect Core §12.2 says must stay as in the original")]
    RefreshMismatch(&'static str),
    /// `max_age` was sent but the ID token has no `auth_time` (OpenID Connect Core §3.1.2.1:
    /// with `max_age` it is required), so the freshness of the login cannot be checked.
    #[error("`max_age` was requested but the ID token carries no `auth_time`; the age of the login cannot be checked")]
    MissingAuthTime,
    /// The user authenticated longer ago than the `max_age` sent allows (OpenID Connect Core
    /// §3.1.3.7 item 11): the provider reused an old session instead of asking again.
    #[error("the user authenticated at {auth_time}, more than the requested max_age of {max_age} s before now ({now}, leeway included); authenticate again")]
    AuthenticationTooOld {
        /// The token's `auth_time`.
        auth_time: i64,
        /// The `max_age` sent, in seconds.
        max_age: u64,
        /// The time of the check.
        now: i64,
    },
    /// Essential `acr` values were requested and the ID token's `acr` is none of them (or
    /// absent): the authentication is weaker than asked for.
    #[error(
        "the ID token's acr is {found:?}, none of the essential values requested ({requested:?})"
    )]
    AcrNotSatisfied {
        /// The values requested as essential.
        requested: Vec<String>,
        /// The token's `acr`, if any (truncated).
        found: Option<String>,
    },
    /// An ID token must be validated (`openid` was requested, or a caller asked for it) but
    /// the provider has no issuer or no JWKS URI to validate it with. Configure both
    /// (`ProviderBuilder::issuer` and `jwks_uri`, or use discovery).
    #[error("the ID token cannot be validated: provider `{provider}` has no {missing}; configure it (or build the provider by discovery)")]
    NoVerifier {
        /// The provider's name.
        provider: String,
        /// What is missing: `issuer`, `jwks_uri`, or both.
        missing: &'static str,
    },
}
