//! The fake's state: pending requests, codes, tokens and clients behind one lock, and its signing keys.

use super::*;

pub(super) const KEY_A: (&str, &str, &str) = (
    "fake-polar-a",
    include_str!("../../fixtures/polar-sh-fake-rs256-a.pem"),
    include_str!("../../fixtures/polar-sh-fake-rs256-a.jwk.json"),
);

pub(super) const KEY_B: (&str, &str, &str) = (
    "fake-polar-b",
    include_str!("../../fixtures/polar-sh-fake-rs256-b.pem"),
    include_str!("../../fixtures/polar-sh-fake-rs256-b.jwk.json"),
);

#[derive(Clone, Debug)]
pub(super) struct PendingRequest {
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) scope: String,
    pub(super) state: Option<String>,
    pub(super) nonce: Option<String>,
    pub(super) challenge: Option<(String, String)>,
    /// Whether `sub_type=organization` asked for a single-organization down-scope.
    pub(super) single_organization: bool,
}

#[derive(Clone, Debug)]
pub(super) struct CodeGrant {
    pub(super) request: PendingRequest,
    /// The down-scope picked on the consent page; empty means all of the user's organizations.
    pub(super) organizations: Vec<String>,
    pub(super) issued_at: u64,
    pub(super) used: bool,
}

#[derive(Clone, Debug)]
pub(super) struct TokenInfo {
    pub(super) client_id: String,
    pub(super) scope: String,
    pub(super) sub_type: String,
    pub(super) sub: String,
    pub(super) iat: u64,
    pub(super) exp: u64,
    pub(super) paired: String,
    pub(super) organizations: Vec<String>,
}

pub(super) struct Inner {
    pub(super) base: String,
    pub(super) issuer: String,
    pub(super) clients: HashMap<String, FakeClient>,
    pub(super) consent: Consent,
    pub(super) kid_in_header: bool,
    pub(super) signing_key: (&'static str, &'static str, &'static str),
    pub(super) clock_offset: u64,
    pub(super) pending: HashMap<String, PendingRequest>,
    pub(super) codes: HashMap<String, CodeGrant>,
    pub(super) access: HashMap<String, TokenInfo>,
    pub(super) refresh: HashMap<String, TokenInfo>,
    pub(super) personal_tokens: HashMap<String, (String, String)>,
    /// Customer-portal session tokens and their expiry (Unix seconds).
    pub(super) customer_sessions: HashMap<String, u64>,
    /// Scopes the user granted, per client (polar: service/oauth2_grant.py).
    pub(super) consented: HashMap<String, HashSet<String>>,
    /// Requests left to refuse with 429, `Retry-After` seconds, and the path they are limited to.
    pub(super) rate_limit: Option<(u32, u64, Option<String>)>,
    pub(super) token_requests: u64,
    pub(super) refresh_requests: u64,
    pub(super) last_token_request: Option<HashMap<String, String>>,
    pub(super) user: (String, String),
    /// The organization's id and slug; the user is its only member.
    pub(super) organization: (String, String),
}

pub(super) type Shared = Arc<Mutex<Inner>>;

impl Inner {
    pub(super) fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + self.clock_offset
    }
}
