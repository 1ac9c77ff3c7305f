//! [`Refusal`]: why grantkit did not send a call at all.

use crate::auth_method::AuthMethod;

/// Why grantkit refused to send a call ([`Error::Refused`](crate::Error::Refused)).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The provider's preset says it refuses public clients at this endpoint (Polar.sh's
    /// revocation endpoint, for one).
    #[error("provider `{provider}` does not let public clients call it; use a confidential client, or forget the tokens locally")]
    PublicClient {
        /// The provider's name.
        provider: String,
    },
    /// The provider's metadata (`revocation_endpoint_auth_methods_supported`,
    /// `introspection_endpoint_auth_methods_supported`) does not list this client's
    /// authentication method: the provider would answer `invalid_client`.
    #[error("{}", auth_method_words(*.method, .accepted))]
    AuthMethod {
        /// How this client authenticates.
        method: AuthMethod,
        /// What the endpoint accepts.
        accepted: Vec<AuthMethod>,
    },
    /// The provider or the client's registration requires pushed authorization requests
    /// (RFC 9126), and the request was built without pushing.
    #[error("pushed authorization requests (PAR) are required; use `AuthorizationRequest::build_async().await`, which pushes")]
    PushRequired,
    /// The access token is DPoP-bound (`token_type: DPoP`) and this client has no DPoP key to
    /// prove possession with.
    #[error("the access token is DPoP-bound but this client has no DPoP key; build it with `ClientBuilder::dpop` (feature `dpop`) and the key the token was bound to")]
    NoDpopKey,
    /// An extra parameter of a back-channel request names one grantkit sets itself
    /// (`grant_type`, `code`, `code_verifier`, `refresh_token`, client authentication, the
    /// token of a revocation...): sending it twice would let the caller, or whoever chose the
    /// parameter, replace what grantkit checked.
    #[error("the parameter `{name}` is set by grantkit itself and cannot be added or overridden; use the request's own method for it")]
    ReservedParameter {
        /// The parameter's name.
        name: String,
    },
    /// A `resource` indicator (RFC 8707 §2) is not an absolute URI without a fragment: the
    /// server would refuse it (`invalid_target`) or read it as another resource.
    #[error("the resource indicator `{resource}` is refused: {reason}; RFC 8707 asks for an absolute URI without a fragment")]
    InvalidResource {
        /// The value given (truncated).
        resource: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A signed authorization request (JAR, RFC 9101) for a provider whose metadata does not
    /// say `request_parameter_supported: true` (OpenID Connect Discovery's default is `false`):
    /// it would ignore the request object, or refuse it.
    #[error("the provider does not accept signed request objects (`request_parameter_supported` is not true in its metadata); send the request unsigned, or push it (PAR)")]
    RequestObjectNotSupported,
    /// The client key's algorithm is not among the provider's
    /// `request_object_signing_alg_values_supported`.
    #[error("the provider verifies request objects signed with {}, not `{alg}`; load a key for one of them", .accepted.join(", "))]
    RequestObjectAlgorithm {
        /// The client key's algorithm.
        alg: String,
        /// What the provider accepts.
        accepted: Vec<String>,
    },
    /// The provider's metadata does not list this response mode in `response_modes_supported`
    /// (a JARM mode such as `query.jwt`): it would answer unsigned, or with an error.
    #[error("the provider does not offer response mode `{mode}` (its `response_modes_supported`: {})", .supported.join(", "))]
    ResponseModeNotSupported {
        /// The mode asked for.
        mode: &'static str,
        /// What the provider lists.
        supported: Vec<String>,
    },
}

fn auth_method_words(method: AuthMethod, accepted: &[AuthMethod]) -> String {
    let names: Vec<&str> = accepted.iter().map(|m| m.as_str()).collect();
    let accepted = if names.is_empty() {
        "none of the methods grantkit implements".to_owned()
    } else {
        names.join(", ")
    };
    match method {
        AuthMethod::None => format!(
            "it accepts only confidential clients ({accepted}) and this client is public (`none`)"
        ),
        m => format!("it accepts {accepted}, not {}", m.as_str()),
    }
}
