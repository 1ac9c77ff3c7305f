//! Dynamic client registration (RFC 7591/7592) with Polar's FastAPI 422 errors.

use super::*;

/// FastAPI's 422 body (polar: server/polar/oauth2/schemas.py validates; FastAPI shapes it).
pub(super) fn validation_error(loc: &[&str], msg: &str, kind: &str) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "error": "RequestValidationError",
            "detail": [{"loc": loc, "msg": msg, "type": kind}],
        })),
    )
        .into_response()
}

/// `http://` only for localhost and private addresses (polar: schemas.py, `_is_https_or_localhost`).
pub(super) fn redirect_uri_ok(uri: &str) -> bool {
    let Ok(url) = url::Url::parse(uri) else {
        return false;
    };
    let local = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_private() || ip.is_loopback(),
        _ => false,
    };
    url.scheme() != "http" || local
}

pub(super) fn checked_redirect_uris(body: &Value) -> Result<Vec<String>, Response> {
    let Some(list) = body.get("redirect_uris").and_then(Value::as_array) else {
        return Err(validation_error(
            &["body", "redirect_uris"],
            "Field required",
            "missing",
        ));
    };
    let uris: Vec<String> = list
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    for (i, uri) in uris.iter().enumerate() {
        if !redirect_uri_ok(uri) {
            let index = i.to_string();
            return Err(validation_error(
                &["body", "redirect_uris", &index],
                "Value error, An HTTPS URL is required.",
                "value_error",
            ));
        }
    }
    // unverified: an empty list; refused here so the fake never holds a client it cannot serve.
    if uris.is_empty() {
        return Err(validation_error(
            &["body", "redirect_uris"],
            "List should have at least 1 item after validation, not 0",
            "too_short",
        ));
    }
    Ok(uris)
}

pub(super) async fn register(State(inner): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut s = inner.lock().unwrap();
    let redirect_uris = match checked_redirect_uris(&body) {
        Ok(uris) => uris,
        Err(response) => return response,
    };
    let method_name = body["token_endpoint_auth_method"]
        .as_str()
        .unwrap_or("client_secret_post");
    let Some(method) = FakeAuthMethod::from_name(method_name) else {
        return validation_error(
            &["body", "token_endpoint_auth_method"],
            "Input should be 'client_secret_basic', 'client_secret_post' or 'none'",
            "literal_error",
        );
    };
    let client_id = format!("polar_ci_{}", random(22));
    let secret = (method != FakeAuthMethod::None).then(|| format!("polar_cs_{}", random(40)));
    let rat = format!("polar_crt_{}", random(32));
    let client = FakeClient {
        client_id: client_id.clone(),
        client_secret: secret,
        auth_method: method,
        redirect_uris,
        // Dropped: not among Authlib's RFC 7591 claims (polar: server/tests/oauth2,
        // `test_dynamically_registered_client_defaults_to_user`).
        default_sub_type: "user".to_owned(),
        registration_access_token: Some(rat),
        metadata: body,
    };
    let response = client_json(&s.base, &client, true);
    s.clients.insert(client_id, client);
    (StatusCode::CREATED, Json(response)).into_response()
}

pub(super) fn client_json(base: &str, c: &FakeClient, with_secrets: bool) -> Value {
    let mut v = c.metadata.clone();
    if !v.is_object() {
        v = json!({});
    }
    v["client_id"] = json!(c.client_id);
    v["client_id_issued_at"] = json!(0);
    v["token_endpoint_auth_method"] = json!(c.auth_method.name());
    v["redirect_uris"] = json!(c.redirect_uris);
    v["default_sub_type"] = json!(c.default_sub_type);
    v["registration_client_uri"] = json!(format!("{base}/v1/oauth2/register/{}", c.client_id));
    if with_secrets {
        if let Some(secret) = &c.client_secret {
            v["client_secret"] = json!(secret);
            v["client_secret_expires_at"] = json!(0);
        }
        v["registration_access_token"] = json!(c.registration_access_token);
    }
    v
}

pub(super) fn registered<'a>(
    s: &'a Inner,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<&'a FakeClient, Response> {
    let client = s
        .clients
        .get(client_id)
        .ok_or_else(|| bearer_error("invalid_token"))?;
    match (bearer(headers), &client.registration_access_token) {
        (Some(t), Some(rat)) if t == *rat => Ok(client),
        _ => Err(bearer_error("invalid_token")),
    }
}

pub(super) async fn read_client(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let s = inner.lock().unwrap();
    match registered(&s, &headers, &id) {
        Ok(c) => Json(client_json(&s.base, c, true)).into_response(),
        Err(r) => r,
    }
}

pub(super) async fn update_client(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut s = inner.lock().unwrap();
    if let Err(r) = registered(&s, &headers, &id) {
        return r;
    }
    // polar: schemas.py, `OAuth2ClientConfigurationUpdate` requires `client_id`.
    if body.get("client_id").and_then(Value::as_str).is_none() {
        return validation_error(&["body", "client_id"], "Field required", "missing");
    }
    let redirect_uris = match checked_redirect_uris(&body) {
        Ok(uris) => uris,
        Err(response) => return response,
    };
    let base = s.base.clone();
    let client = s.clients.get_mut(&id).unwrap();
    client.redirect_uris = redirect_uris;
    client.metadata = body;
    Json(client_json(&base, client, true)).into_response()
}

pub(super) async fn delete_client(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut s = inner.lock().unwrap();
    if let Err(r) = registered(&s, &headers, &id) {
        return r;
    }
    // A soft delete: the client is gone for authentication (refresh → `invalid_client`), its
    // access tokens stay valid (polar: authorization_server.py, `delete_client`).
    s.clients.remove(&id);
    StatusCode::NO_CONTENT.into_response()
}
