//! Discovery (served from the API host with the foreign issuer) and the JWKS.

use super::*;

pub(super) async fn discovery(State(inner): State<Shared>) -> Json<Value> {
    let s = inner.lock().unwrap();
    let api = &s.base;
    Json(json!({
        "issuer": s.issuer,
        "authorization_endpoint": format!("{api}/oauth2/authorize"),
        "token_endpoint": format!("{api}/v1/oauth2/token"),
        "jwks_uri": format!("{api}/.well-known/jwks.json"),
        "userinfo_endpoint": format!("{api}/v1/oauth2/userinfo"),
        "registration_endpoint": format!("{api}/v1/oauth2/register"),
        "revocation_endpoint": format!("{api}/v1/oauth2/revoke"),
        "introspection_endpoint": format!("{api}/v1/oauth2/introspect"),
        "scopes_supported": scopes_supported(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "service_documentation": "https://docs.polar.sh/api-reference#authentication",
        "code_challenge_methods_supported": ["S256", "plain"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "name", "email", "email_verified"],
    }))
}

/// The server's whole list (polar: server/polar/auth/scope.py, `SCOPES_SUPPORTED`).
pub(super) fn scopes_supported() -> Vec<String> {
    const RESOURCES: [&str; 25] = [
        "custom_fields",
        "discounts",
        "checkout_links",
        "checkouts",
        "transactions",
        "payouts",
        "products",
        "benefits",
        "events",
        "meters",
        "files",
        "subscriptions",
        "customers",
        "members",
        "wallets",
        "disputes",
        "orders",
        "refunds",
        "license_keys",
        "webhooks",
        "metrics",
        "customer_portal",
        "notifications",
        "notification_recipients",
        "customer_seats",
    ];
    let mut scopes: Vec<String> = [
        "openid",
        "profile",
        "email",
        "user:read",
        "user:write",
        "organizations:read",
        "organizations:write",
    ]
    .map(str::to_owned)
    .to_vec();
    for r in RESOURCES {
        scopes.push(format!("{r}:read"));
        scopes.push(format!("{r}:write"));
    }
    for extra in [
        "payments:read",
        "customer_meters:read",
        "customer_sessions:write",
        "member_sessions:write",
    ] {
        scopes.push(extra.to_owned());
    }
    scopes
}

pub(super) async fn jwks(State(inner): State<Shared>) -> Json<Value> {
    let (kid, _, jwk) = inner.lock().unwrap().signing_key;
    let mut key: Value = serde_json::from_str(jwk).unwrap();
    key["kid"] = json!(kid);
    Json(json!({ "keys": [key] }))
}
