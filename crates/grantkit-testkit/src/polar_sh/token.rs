//! The token endpoint and its neighbours: client authentication, the code and refresh grants, ID tokens, revocation, introspection and userinfo.

use super::*;

/// Polar's OAuth errors (Authlib's JSON answers; a Basic challenge on a 401).
pub(super) const OAUTH: OAuthDialect = OAuthDialect {
    content_type: "application/json",
    basic_challenge: "Basic realm=\"polar\"",
};

pub(super) fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    OAUTH.error(status, code, description)
}

/// Authlib's RFC 6750 error for a presented token that is not valid
/// (polar: server/polar/auth/middlewares.py raises `InvalidTokenError`).
pub(super) fn bearer_error(code: &str) -> Response {
    let description =
        "The access token provided is expired, revoked, malformed, or invalid for other reasons.";
    let challenge =
        format!("Bearer realm=\"polar\", error=\"{code}\", error_description=\"{description}\"");
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge.parse().unwrap());
    response
}

/// Client authentication at the token endpoint: the one method the client is registered for.
pub(super) fn authenticate(
    s: &Inner,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<FakeClient, Response> {
    authenticate_with(s, headers, form, true)
}

/// Client authentication at revocation and introspection: Basic or post from any confidential
/// client (Authlib's `check_endpoint_auth_method` binds the method only at the token endpoint).
pub(super) fn authenticate_confidential(
    s: &Inner,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<FakeClient, Response> {
    match authenticate_with(s, headers, form, false) {
        Ok(c) if c.auth_method != FakeAuthMethod::None => Ok(c),
        _ => Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )),
    }
}

pub(super) fn authenticate_with(
    s: &Inner,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
    fixed_method: bool,
) -> Result<FakeClient, Response> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(decode_basic);
    let invalid = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )
    };
    let client_id = basic
        .as_ref()
        .map(|(id, _)| id.clone())
        .or_else(|| form.get("client_id").cloned());
    let client = client_id
        .and_then(|id| s.clients.get(&id).cloned())
        .ok_or_else(invalid)?;
    let method = match (fixed_method, &basic) {
        (true, _) => client.auth_method,
        (false, Some(_)) => FakeAuthMethod::Basic,
        (false, None) => FakeAuthMethod::Post,
    };
    let ok = match method {
        FakeAuthMethod::Basic => {
            basic.is_some_and(|(_, secret)| Some(&secret) == client.client_secret.as_ref())
        }
        FakeAuthMethod::Post => {
            basic.is_none() && form.get("client_secret") == client.client_secret.as_ref()
        }
        FakeAuthMethod::None => basic.is_none() && !form.contains_key("client_secret"),
    };
    if ok {
        Ok(client)
    } else {
        Err(invalid())
    }
}

pub(super) async fn token(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut s = inner.lock().unwrap();
    s.token_requests += 1;
    s.last_token_request = Some(
        form.iter()
            .map(|(k, v)| {
                let shown = if ["code", "client_secret", "refresh_token", "code_verifier"]
                    .contains(&k.as_str())
                {
                    "<present>".to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect(),
    );
    let client = match authenticate(&s, &headers, &form) {
        Ok(c) => c,
        Err(response) => return response,
    };
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(&mut s, &client, &form),
        Some("refresh_token") => refresh_grant(&mut s, &client, &form),
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unsupported grant type",
        ),
    }
}

pub(super) fn code_grant(
    s: &mut Inner,
    client: &FakeClient,
    form: &HashMap<String, String>,
) -> Response {
    let now = s.now();
    let invalid_grant = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let Some(grant) = form.get("code").and_then(|c| s.codes.get_mut(c)) else {
        return invalid_grant("invalid authorization code");
    };
    if grant.used || now > grant.issued_at + 300 || grant.request.client_id != client.client_id {
        return invalid_grant("invalid authorization code");
    }
    if form.get("redirect_uri") != Some(&grant.request.redirect_uri) {
        return invalid_grant("redirect_uri does not match");
    }
    if client.auth_method == FakeAuthMethod::None && !form.contains_key("code_verifier") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing code_verifier",
        );
    }
    if grant.request.challenge.is_none() && form.contains_key("code_verifier") {
        // polar: Authlib's CodeChallenge refuses a verifier no challenge asked for.
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Unexpected \"code_verifier\"",
        );
    }
    if !pkce_ok(&grant.request.challenge, form.get("code_verifier")) {
        return invalid_grant("code_verifier does not match");
    }
    grant.used = true;
    let (request, organizations) = (grant.request.clone(), grant.organizations.clone());
    // Only user tokens are issued now (polar: grants/authorization_code.py, `_validate_sub`).
    let sub = s.user.0.clone();
    let subject = Subject {
        sub_type: "user",
        sub: &sub,
        organizations,
    };
    let (access, refresh) = issue_pair(s, client, &request.scope, subject, 864_000);
    let mut body = json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 864_000,
        "refresh_token": refresh, "scope": request.scope,
    });
    if request.scope.split(' ').any(|x| x == "openid") {
        body["id_token"] = json!(id_token(s, client, &request, &sub, &access, now));
    }
    Json(body).into_response()
}

pub(super) fn refresh_grant(
    s: &mut Inner,
    client: &FakeClient,
    form: &HashMap<String, String>,
) -> Response {
    s.refresh_requests += 1;
    let Some(old) = form
        .get("refresh_token")
        .and_then(|t| s.refresh.get(t))
        .cloned()
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "invalid refresh token",
        );
    };
    if old.client_id != client.client_id {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "invalid refresh token",
        );
    }
    // Rotation: the old refresh token and the access token it was issued with die now.
    s.refresh.remove(form.get("refresh_token").unwrap());
    s.access.remove(&old.paired);
    // A legacy organization token of a one-member organization comes back as that member's user
    // token down-scoped to it (polar: grants/refresh_token.py, `authenticate_user`).
    let user = s.user.0.clone();
    let subject = if old.sub_type == "organization" {
        Subject {
            sub_type: "user",
            sub: &user,
            organizations: vec![old.sub.clone()],
        }
    } else {
        Subject {
            sub_type: "user",
            sub: &old.sub,
            organizations: old.organizations.clone(),
        }
    };
    let (access, refresh) = issue_pair(s, client, &old.scope, subject, 3600);
    Json(json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 3600,
        "refresh_token": refresh, "scope": old.scope,
    }))
    .into_response()
}

pub(super) struct Subject<'a> {
    pub(super) sub_type: &'a str,
    pub(super) sub: &'a str,
    pub(super) organizations: Vec<String>,
}

pub(super) fn issue_pair(
    s: &mut Inner,
    client: &FakeClient,
    scope: &str,
    subject: Subject<'_>,
    ttl: u64,
) -> (String, String) {
    let Subject {
        sub_type,
        sub,
        organizations,
    } = subject;
    let kind = if sub_type == "organization" { "o" } else { "u" };
    let access = format!("polar_at_{kind}_{}", random(32));
    let refresh = format!("polar_rt_{kind}_{}", random(32));
    let now = s.now();
    let info = |paired: &str, exp: u64| TokenInfo {
        client_id: client.client_id.clone(),
        scope: scope.to_owned(),
        sub_type: sub_type.to_owned(),
        sub: sub.to_owned(),
        iat: now,
        exp,
        paired: paired.to_owned(),
        organizations: organizations.clone(),
    };
    s.access.insert(access.clone(), info(&refresh, now + ttl));
    s.refresh.insert(refresh.clone(), info(&access, u64::MAX));
    (access, refresh)
}

pub(super) fn id_token(
    s: &Inner,
    client: &FakeClient,
    request: &PendingRequest,
    sub: &str,
    access: &str,
    now: u64,
) -> String {
    let digest = Sha256::digest(access.as_bytes());
    let (kid, pem, _) = s.signing_key;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = s.kid_in_header.then(|| kid.to_owned());
    let mut claims = json!({
        "iss": s.issuer, "aud": [client.client_id], "iat": now, "exp": now + 3600, "auth_time": now,
        "nonce": request.nonce, "at_hash": URL_SAFE_NO_PAD.encode(&digest[..16]), "sub": sub,
    });
    if request.scope.split(' ').any(|x| x == "email") {
        claims["email"] = json!(s.user.1);
        claims["email_verified"] = json!(true);
    }
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

pub(super) async fn revoke(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut s = inner.lock().unwrap();
    // Revocation needs client authentication: public clients cannot revoke.
    let client = match authenticate_confidential(&s, &headers, &form) {
        Ok(c) => c,
        Err(response) => return response,
    };
    // Another client's token: Authlib's RevocationEndpoint raises `invalid_grant`.
    let owner = form.get("token").and_then(|t| {
        s.refresh
            .get(t)
            .or_else(|| s.access.get(t))
            .map(|i| i.client_id.clone())
    });
    if owner.is_some_and(|o| o != client.client_id) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "invalid token");
    }
    if let Some(token) = form.get("token") {
        if let Some(info) = s
            .refresh
            .get(token)
            .filter(|i| i.client_id == client.client_id)
            .cloned()
        {
            s.refresh.remove(token);
            s.access.remove(&info.paired);
        } else if let Some(info) = s
            .access
            .get(token)
            .filter(|i| i.client_id == client.client_id)
            .cloned()
        {
            // One row holds both tokens and a revoke marks both revoked
            // (polar: authorization_server.py, `RevocationEndpoint.revoke_token`).
            s.access.remove(token);
            s.refresh.remove(&info.paired);
        }
    }
    Json(json!({})).into_response()
}

pub(super) async fn introspect(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let s = inner.lock().unwrap();
    let client = match authenticate_confidential(&s, &headers, &form) {
        Ok(c) => c,
        Err(response) => return response,
    };
    let token = form.get("token").cloned().unwrap_or_default();
    let now = s.now();
    let found = s
        .access
        .get(&token)
        .filter(|i| i.exp > now)
        .map(|i| (i, "access_token"))
        .or_else(|| s.refresh.get(&token).map(|i| (i, "refresh_token")));
    match found.filter(|(i, _)| i.client_id == client.client_id) {
        Some((info, kind)) => {
            let organizations = &info.organizations;
            Json(json!({
                "active": true, "client_id": info.client_id, "token_type": kind, "scope": info.scope,
                "sub_type": info.sub_type, "sub": info.sub, "organizations": organizations,
                "aud": info.client_id, "iss": s.issuer, "exp": info.exp, "iat": info.iat,
            }))
            .into_response()
        }
        None => Json(json!({"active": false})).into_response(),
    }
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

pub(super) async fn userinfo(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let s = inner.lock().unwrap();
    let now = s.now();
    // Personal and organization access tokens are refused here, as on Polar.
    let Some(info) = bearer(&headers)
        .and_then(|t| s.access.get(&t).cloned())
        .filter(|i| i.exp > now)
    else {
        return bearer_error("invalid_token");
    };
    // A legacy organization: its slug as `name`, only with `openid` (polar: userinfo.py).
    if info.sub_type == "organization" {
        let mut body = json!({"sub": info.sub});
        if info.scope.split(' ').any(|x| x == "openid") {
            body["name"] = json!(s.organization.1);
        }
        return Json(body).into_response();
    }
    let mut body = json!({"sub": info.sub});
    if info.scope.split(' ').any(|x| x == "email") {
        body["email"] = json!(s.user.1);
        body["email_verified"] = json!(true);
    }
    Json(body).into_response()
}
