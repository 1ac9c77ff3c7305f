//! The API beyond OAuth: products, customer sessions and the customer portal, and the middleware every request passes (rate limit, the `/api/v1` deprecation notice).

use super::*;

/// polar: server/polar/middlewares.py rewrites `/api/v1/...` to `/v1/...` and says so in a header.
pub(super) async fn deprecation_notice(mut response: Response) -> Response {
    response.headers_mut().insert(
        "x-polar-deprecation-notice",
        "The API root has moved from /api/v1 to /v1. Please update your integration."
            .parse()
            .unwrap(),
    );
    response
}

pub(super) async fn rate_limit(
    State(inner): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limited = {
        let mut s = inner.lock().unwrap();
        let path = request.uri().path();
        match s.rate_limit.take() {
            Some((n, secs, only)) if n > 0 && only.as_deref().is_none_or(|p| path.ends_with(p)) => {
                s.rate_limit = (n > 1).then_some((n - 1, secs, only));
                Some(secs)
            }
            kept => {
                s.rate_limit = kept;
                None
            }
        }
    };
    match limited {
        Some(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, secs.to_string())],
            "",
        )
            .into_response(),
        None => next.run(request).await,
    }
}

/// `POST /v1/customer-sessions/` with `customer_sessions:write`: a `polar_cst_` token for the
/// customer portal that expires in an hour and cannot be refreshed (polar:
/// server/polar/customer_session/service.py).
pub(super) async fn create_customer_session(
    State(inner): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut s = inner.lock().unwrap();
    let now = s.now();
    let Some(token) = bearer(&headers) else {
        return unauthorized();
    };
    let scope = match (s.access.get(&token), s.personal_tokens.get(&token)) {
        (Some(info), _) if info.exp > now => info.scope.clone(),
        (_, Some((_, scope))) => scope.clone(),
        _ => return bearer_error("invalid_token"),
    };
    if !scope.split(' ').any(|x| x == "customer_sessions:write") {
        return insufficient_scope("customer_sessions:write");
    }
    let Some(customer) = body.get("customer_id").and_then(Value::as_str) else {
        return validation_error(&["body", "customer_id"], "Field required", "missing");
    };
    let session = format!("polar_cst_{}", random(32));
    let expires = now + 3600;
    s.customer_sessions.insert(session.clone(), expires);
    let when = crate::accesslink::iso8601(UNIX_EPOCH + Duration::from_secs(expires));
    (
        StatusCode::CREATED,
        Json(json!({
            "token": session, "expires_at": when, "customer_id": customer,
            "customer_portal_url": format!("{}/portal?customer_session_token={session}", s.base),
        })),
    )
        .into_response()
}

/// `GET /v1/customer-portal/customers/me` with a live customer session.
pub(super) async fn portal_customer(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let s = inner.lock().unwrap();
    let now = s.now();
    let Some(token) = bearer(&headers) else {
        return unauthorized();
    };
    let live = s
        .customer_sessions
        .get(&token)
        .is_some_and(|exp| *exp > now);
    if !live {
        return bearer_error("invalid_token");
    }
    Json(json!({"id": "cus_1", "email": "customer@example.test"})).into_response()
}

/// A `PolarError`: `{"error": "Unauthorized", "detail": ...}` with a Bearer realm, when no
/// token came (polar: server/polar/exceptions.py, server/polar/auth/dependencies.py).
pub(super) fn unauthorized() -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "Unauthorized", "detail": "Unauthorized"})),
    )
        .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        "Bearer realm=\"polar\"".parse().unwrap(),
    );
    r
}

/// 403 with the needed scope (polar: server/polar/oauth2/exceptions.py, `InsufficientScopeError`).
pub(super) fn insufficient_scope(scope: &str) -> Response {
    let description = "The request requires higher privileges than provided by the access token.";
    let challenge = format!(
        "Bearer realm=\"polar\", error=\"insufficient_scope\", error_description=\"{description}\", scope=\"{scope}\""
    );
    let mut r = (
        StatusCode::FORBIDDEN,
        Json(json!({"error": "insufficient_scope", "error_description": description})),
    )
        .into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge.parse().unwrap());
    r
}

pub(super) async fn products(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let s = inner.lock().unwrap();
    let now = s.now();
    let Some(token) = bearer(&headers) else {
        return unauthorized();
    };
    let scope = match (s.access.get(&token), s.personal_tokens.get(&token)) {
        (Some(info), _) if info.exp > now => info.scope.clone(),
        (_, Some((_, scope))) => scope.clone(),
        _ => return bearer_error("invalid_token"),
    };
    if !scope
        .split(' ')
        .any(|x| x == "products:read" || x == "products:write")
    {
        return insufficient_scope("products:read products:write");
    }
    Json(json!({
        "items": [{"id": "prod_1", "name": "Pro plan"}, {"id": "prod_2", "name": "Sticker pack"}],
        "pagination": {"total_count": 2, "max_page": 1},
    }))
    .into_response()
}
