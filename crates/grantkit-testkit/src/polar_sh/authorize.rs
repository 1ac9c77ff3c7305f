//! The browser's side: the authorization endpoint, the consent page and the codes it issues.

use super::*;

pub(super) fn redirect_with(uri: &str, params: &[(&str, Option<&str>)]) -> Response {
    let mut url = url::Url::parse(uri).expect("registered redirect URIs are URLs");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
    }
    Redirect::to(url.as_str()).into_response()
}

pub(super) async fn authorize(
    State(inner): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = inner.lock().unwrap();
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    let Some(client) = s.clients.get(&client_id).cloned() else {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    };
    let redirect_uri = match q.get("redirect_uri") {
        Some(uri) if client.redirect_uris.contains(uri) => uri.clone(),
        Some(_) => return (StatusCode::BAD_REQUEST, "redirect_uri not registered").into_response(),
        None => client.redirect_uris[0].clone(),
    };
    let state = q.get("state").cloned();
    let fail = |code: &str, description: &str| {
        redirect_with(
            &redirect_uri,
            &[
                ("error", Some(code)),
                ("error_description", Some(description)),
                ("state", state.as_deref()),
            ],
        )
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return fail("unsupported_response_type", "only `code` is supported");
    }
    // Unknown `prompt` values are ignored (polar: server/polar/oauth2/grants/authorization_code.py
    // reads only "none"; server/polar/oauth2/endpoints/oauth2.py only "login" and "none").
    let prompt = q.get("prompt").cloned();
    let challenge = q.get("code_challenge").map(|c| {
        // Polar assumes `plain` when the method is omitted.
        let method = q
            .get("code_challenge_method")
            .cloned()
            .unwrap_or_else(|| "plain".into());
        (c.clone(), method)
    });
    // Authlib's OpenIDCode.exists_nonce: a nonce is a replay while an unexchanged code holds it
    // (polar: server/polar/oauth2/grants/authorization_code.py, `_exists_nonce`).
    if let Some(nonce) = q.get("nonce") {
        let held = s.codes.values().any(|g| {
            !g.used && g.request.client_id == client_id && g.request.nonce.as_ref() == Some(nonce)
        });
        if held {
            return fail("invalid_request", "Replay attack");
        }
    }
    // The legacy `sub` parameter is never read; `sub_type=organization` only asks for a
    // one-organization down-scope of a user token (polar: authorization_code.py, `_validate_sub`).
    let sub_type = q
        .get("sub_type")
        .cloned()
        .unwrap_or(client.default_sub_type.clone());
    if !["user", "organization"].contains(&sub_type.as_str()) {
        return fail("invalid_request", "Invalid sub_type");
    }
    let request = PendingRequest {
        client_id,
        redirect_uri: redirect_uri.clone(),
        scope: q.get("scope").cloned().unwrap_or_default(),
        state: state.clone(),
        nonce: q.get("nonce").cloned(),
        challenge,
        single_organization: sub_type == "organization",
    };
    let granted = s.consented.get(&request.client_id).is_some_and(|g| {
        request
            .scope
            .split(' ')
            .all(|x| x.is_empty() || g.contains(x))
    });
    match prompt.as_deref() {
        Some("none") if !granted => return fail("consent_required", "consent required"),
        // A granted scope and no prompt skip the consent page (`_validate_scope_consent`).
        Some("none") | None if granted => return skip_consent(&mut s, request),
        _ => {}
    }
    let id = random(16);
    s.pending.insert(id.clone(), request);
    Redirect::to(&format!("/oauth2/consent?request={id}")).into_response()
}

/// The consent page is skipped: nobody picks an organization, so `sub_type=organization` fails
/// with a 400 page and no redirect (polar: authorization_code.py, `_resolve_organization_ids`;
/// server/tests/oauth2: `test_organization_sub_type_requires_an_organization`).
pub(super) fn skip_consent(s: &mut Inner, request: PendingRequest) -> Response {
    if request.single_organization {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": "invalid_request",
                "error_description": "sub_type=organization requires selecting an organization",
            })),
        )
            .into_response();
    }
    issue_code(s, request, Vec::new())
}

pub(super) async fn consent(
    State(inner): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut s = inner.lock().unwrap();
    let Some(request) = q.get("request").and_then(|id| s.pending.remove(id)) else {
        return (StatusCode::BAD_REQUEST, "unknown authorization request").into_response();
    };
    if s.consent == Consent::Deny {
        return redirect_with(
            &request.redirect_uri,
            &[
                ("error", Some("access_denied")),
                ("error_description", Some("The user denied the request")),
                ("state", request.state.as_deref()),
            ],
        );
    }
    let granted = s.consented.entry(request.client_id.clone()).or_default();
    granted.extend(request.scope.split(' ').map(str::to_owned));
    // The user picks one organization on the page when `sub_type=organization` asked for it.
    let organizations = if request.single_organization {
        vec![s.organization.0.clone()]
    } else {
        Vec::new()
    };
    issue_code(&mut s, request, organizations)
}

pub(super) fn issue_code(
    s: &mut Inner,
    request: PendingRequest,
    organizations: Vec<String>,
) -> Response {
    let code = format!("polar_ac_{}", random(32));
    let (redirect_uri, state) = (request.redirect_uri.clone(), request.state.clone());
    let now = s.now();
    s.codes.insert(
        code.clone(),
        CodeGrant {
            request,
            organizations,
            issued_at: now,
            used: false,
        },
    );
    redirect_with(
        &redirect_uri,
        &[("code", Some(&code)), ("state", state.as_deref())],
    )
}
