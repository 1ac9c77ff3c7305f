// grantkit OIDC test peer: a real OpenID Provider (npm `oidc-provider` 9.x) for integration tests.
//
//   node server.mjs            -> prints exactly one stdout line: GRANTKIT_PEER_URL=http://127.0.0.1:<port>
//
// Environment:
//   PEER_PORT               port to listen on (default 0 = random)
//   PEER_ACCESS_TOKEN_TTL   access-token lifetime in seconds (default 3600; also used for client_credentials)
//   PEER_IGNORE_STDIN=1     do not exit when stdin reaches EOF (for manual runs with `< /dev/null` / `&`)
//   PEER_DEVICE_INTERVAL    device flow: send this `interval` (seconds) and answer `slow_down` to faster polls
//   PEER_DEVICE_CODE_TTL    device flow: device code lifetime in seconds (default 600)
//   PEER_DPOP_NONCE=1       DPoP: demand a server nonce (`use_dpop_nonce` + `DPoP-Nonce`) on every proof
//   PEER_CONFIDENTIAL_ENDPOINTS=1  revocation and introspection for confidential clients only: discovery
//                           lists `revocation_endpoint_auth_methods_supported` and
//                           `introspection_endpoint_auth_methods_supported` without `none`, and a public
//                           client calling either gets 401 `invalid_client` (as Polar.sh and others do)
//   PEER_WEB_APP_ORIGIN     adds `web-app-client` (secret `web-app-secret`, client_secret_basic, a `web` client)
//                           for a web app at this origin (e.g. http://127.0.0.1:41234): redirect URI
//                           ORIGIN/callback, post-logout redirect URI ORIGIN/auth/logged-out, back-channel
//                           logout URI ORIGIN/auth/backchannel-logout (PEER_BACKCHANNEL_LOGOUT_URI overrides
//                           it), `sid` in its ID tokens and logout tokens
//   PEER_TLS_CERT, PEER_TLS_KEY, PEER_TLS_CA   mutual TLS (RFC 8705): serve HTTPS (issuer https://127.0.0.1:<port>)
//                           with this server certificate and key (PEM), ask every connection for a client
//                           certificate and verify it against PEER_TLS_CA (not refusing the handshake: the
//                           provider decides). Turns on oidc-provider's `features.mTLS` (tls_client_auth,
//                           self_signed_tls_client_auth, certificate-bound access tokens) and publishes
//                           `mtls_endpoint_aliases` under /mtls/...: only requests to an alias see the client
//                           certificate, as at a provider whose mTLS endpoints sit on their own host. Adds
//                           `mtls-client` (tls_client_auth, subject DN `CN=grantkit-mtls-client`) and, with
//                           PEER_MTLS_SELF_SIGNED_CERT (PEM), `mtls-self-signed-client` whose JWKS holds it.
//
//   PEER_REGISTRATION=1     dynamic client registration (RFC 7591, open to anyone) and its management
//                           (RFC 7592, rotating the registration access token on every read and update)
//   PEER_REGISTRATION_IAT   with PEER_REGISTRATION=1: registration needs this initial access token (Bearer)
//
// HTTP Basic client credentials are read like servers that use a plain percent-decoder (no `+` -> space):
// a space must arrive as `%20`; `+` stays a literal plus. See decodeBasicPlainly below.
//
// Everything except the URL line goes to stderr. See README.md for the protocol and the client table.

import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';

// oidc-provider prints its "NOTICE"s with console.info, i.e. to stdout. The parent reads stdout for the
// URL line only, so route every console method to stderr *before* the library is loaded (hence the
// dynamic import below: static imports would be evaluated before this code runs).
for (const m of ['log', 'info', 'debug']) {
  console[m] = (...args) => console.error(...args);
}
const { default: Provider, errors } = await import('oidc-provider');

// ---------------------------------------------------------------------------------------------------
// Static clients. All are `native` so that RFC 8252 §7.3 applies: for http://127.0.0.1 (and
// http://[::1], http://localhost) redirect URIs the port is ignored when matching, so a test may use
// http://127.0.0.1:<any port>/callback. Path and query must still match exactly.
// ---------------------------------------------------------------------------------------------------
const REDIRECT_URIS = ['http://127.0.0.1/callback', 'http://127.0.0.1:8976/callback'];

// Public halves of the test-only keys in ../fixtures/peer-client-*.pem (RSA, P-256, Ed25519).
const CLIENT_JWKS = JSON.parse(fs.readFileSync(new URL('../fixtures/peer-client-jwks.json', import.meta.url), 'utf8'));

// A secret with a space and every reserved character (RFC 3986 gen-delims and sub-delims, and `%`).
const RESERVED_SECRET = "a secret :/?#[]@!$&'()*+,;=% end";

// Extension grants registered by this peer (see registerExtensionGrants).
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ECHO_GRANT = 'urn:grantkit:test:echo';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
// ---------------------------------------------------------------------------------------------------
// Mutual TLS (RFC 8705), only with PEER_TLS_CERT. Read from oidc-provider 9.x: lib/shared/client_auth.js
// (tls_client_auth asks certificateAuthorized, then certificateSubjectMatches for the one registered
// tls_client_auth_* value; self_signed_tls_client_auth matches the certificate's x5t#S256 against the
// client's JWKS), lib/shared/access_token.js (a bound token needs the same certificate at userinfo),
// lib/actions/introspection.js (cnf.x5t#S256). oidc-provider does not publish mtls_endpoint_aliases
// itself: they go in through `discovery`.
// ---------------------------------------------------------------------------------------------------
const TLS = process.env.PEER_TLS_CERT
  ? { cert: process.env.PEER_TLS_CERT, key: process.env.PEER_TLS_KEY, ca: process.env.PEER_TLS_CA }
  : undefined;
const MTLS_PREFIX = '/mtls/';
const MTLS_CLIENT_DN = 'CN=grantkit-mtls-client';

function mtlsClients() {
  if (!TLS) return [];
  const clients = [{
    client_id: 'mtls-client',
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: MTLS_CLIENT_DN,
    tls_client_certificate_bound_access_tokens: true,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    scope: 'openid email profile offline_access api:read',
  }];
  const selfSigned = process.env.PEER_MTLS_SELF_SIGNED_CERT;
  if (selfSigned) {
    const cert = new crypto.X509Certificate(selfSigned);
    const jwk = { ...cert.publicKey.export({ format: 'jwk' }), x5c: [cert.raw.toString('base64')] };
    clients.push({
      client_id: 'mtls-self-signed-client',
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      jwks: { keys: [jwk] },
      tls_client_certificate_bound_access_tokens: true,
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      scope: 'openid email profile offline_access api:read',
    });
  }
  return clients;
}

// The client certificate, for requests that came through an alias only.
function mtlsCertificate(ctx) {
  if (!ctx.req.viaMtlsAlias) return undefined;
  const peer = ctx.req.socket.getPeerCertificate?.();
  return peer?.raw ? new crypto.X509Certificate(peer.raw) : undefined;
}

function withMtls(issuer, conf) {
  if (!TLS) return conf;
  conf.features.mTLS = {
    enabled: true,
    certificateBoundAccessTokens: true,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: true,
    getCertificate: mtlsCertificate,
    // The handshake verified the chain against PEER_TLS_CA (rejectUnauthorized is off, so look).
    certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
    // Only tls_client_auth_subject_dn is registered here; one-RDN subjects read the same in
    // RFC 4514 order and node's.
    certificateSubjectMatches: (ctx, property, expected) => property === 'tls_client_auth_subject_dn'
      && mtlsCertificate(ctx)?.subject.split('\n').reverse().join(',') === expected,
  };
  // The library's default list has none of the mTLS methods; the shared peer keeps its own.
  conf.clientAuthMethods = ['none', 'client_secret_basic', 'client_secret_jwt', 'client_secret_post',
    'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'];
  const alias = (path) => `${issuer}${MTLS_PREFIX}${path}`;
  conf.discovery = {
    ...(conf.discovery ?? {}),
    mtls_endpoint_aliases: {
      token_endpoint: alias('token'),
      revocation_endpoint: alias('token/revocation'),
      introspection_endpoint: alias('token/introspection'),
      userinfo_endpoint: alias('me'),
      pushed_authorization_request_endpoint: alias('request'),
      device_authorization_endpoint: alias('device/auth'),
    },
  };
  return conf;
}

// grantkit-axum's tests: a web app on loopback whose sessions end by RP-initiated and back-channel logout.
function webAppClients() {
  const origin = process.env.PEER_WEB_APP_ORIGIN;
  if (!origin) return [];
  return [{
    client_id: 'web-app-client',
    client_secret: 'web-app-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    application_type: 'web',
    redirect_uris: [`${origin}/callback`],
    post_logout_redirect_uris: [`${origin}/auth/logged-out`],
    backchannel_logout_uri: process.env.PEER_BACKCHANNEL_LOGOUT_URI ?? `${origin}/auth/backchannel-logout`,
    backchannel_logout_session_required: true,
    grant_types: ['authorization_code', 'refresh_token'],
  }];
}

// oidc-provider refuses to fetch special-use addresses (SSRF protection): let it post back-channel
// logout tokens to the web app under test on loopback, and nothing else.
function isWebAppUrl(url) {
  const targets = [process.env.PEER_WEB_APP_ORIGIN, process.env.PEER_BACKCHANNEL_LOGOUT_URI].filter(Boolean);
  return targets.some((t) => String(url).startsWith(t));
}

const CLIENTS = [
  {
    // Public client: PKCE (S256) is mandatory.
    client_id: 'public-client',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
  },
  {
    // Confidential, HTTP Basic. The secret contains characters that must be form-urlencoded before
    // base64 (RFC 6749 §2.3.1): '+' -> %2B, '%' -> %25, ':' -> %3A, '/' -> %2F.
    client_id: 'basic-client',
    client_secret: 'basic+secret%with:odd/chars',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    scope: 'openid email profile offline_access api:read',
  },
  {
    // Confidential, secret in the form body.
    client_id: 'post-client',
    client_secret: 'post-secret-123',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code', 'refresh_token'],
  },
  {
    // Confidential, ID tokens signed with ES256 (the P-256 key) instead of the default RS256.
    client_id: 'es256-client',
    client_secret: 'es256-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
    grant_types: ['authorization_code', 'refresh_token'],
  },
  {
    // Public device-flow client (RFC 8628).
    client_id: 'device-client',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
  },
  {
    // private_key_jwt (RFC 7523): assertions signed with one of the keys in ../fixtures/peer-client-jwks.json
    // (RS256, PS256, ES256, EdDSA are accepted; RS384 is not in the server's allowed list).
    client_id: 'jwt-key-client',
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: CLIENT_JWKS,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  },
  {
    // client_secret_jwt (RFC 7523): HS256 assertions keyed with the secret.
    client_id: 'jwt-secret-client',
    client_secret: 'jwt-secret-client-hs256-key-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_jwt',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  },
  {
    // Like jwt-key-client, but assertions must follow draft-ietf-oauth-rfc7523bis: see
    // assertJwtClientAuthClaimsAndHeader below.
    client_id: 'jwt-strict-key-client',
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: CLIENT_JWKS,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  },
  {
    // Like jwt-secret-client, with the same draft-ietf-oauth-rfc7523bis checks.
    client_id: 'jwt-strict-secret-client',
    client_secret: 'jwt-secret-client-hs256-key-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_jwt',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  },
  {
    // Registered for pushed authorization requests only (RFC 9126 §6).
    client_id: 'par-client',
    client_secret: 'par-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    require_pushed_authorization_requests: true,
    grant_types: ['authorization_code', 'refresh_token'],
  },
  {
    // Public client whose tokens must be DPoP-bound (RFC 9449 §5.2): token requests without a proof fail.
    client_id: 'dpop-client',
    token_endpoint_auth_method: 'none',
    dpop_bound_access_tokens: true,
    grant_types: ['authorization_code', 'refresh_token'],
  },
  {
    // HTTP Basic with a secret holding a space and every reserved character.
    client_id: 'reserved-basic-client',
    client_secret: RESERVED_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  },
  {
    // The same secret in the form body.
    client_id: 'reserved-post-client',
    client_secret: RESERVED_SECRET,
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  },
  {
    // A `web` client: its redirect URI is compared exactly, port included (no RFC 8252 §7.3
    // any-port rule), like Polar.sh and many other providers do.
    client_id: 'exact-redirect-client',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1:8976/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
  },
  {
    // Token exchange (RFC 8693) and the JWT bearer grant (RFC 7523 §2.1), both custom grants of
    // this peer (registerExtensionGrants below). Bearer assertions are checked against `jwks`.
    client_id: 'exchange-client',
    client_secret: 'exchange-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    jwks: CLIENT_JWKS,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials', TOKEN_EXCHANGE, JWT_BEARER, ECHO_GRANT],
    scope: 'openid email profile offline_access api:read',
  },
  {
    // Resource indicators (RFC 8707): logs in for RESOURCE_SERVERS below and refreshes for each.
    client_id: 'resource-client',
    client_secret: 'resource-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    scope: 'openid email offline_access api:read',
  },
  {
    // Signed responses: JWT introspection (RFC 9701) and signed userinfo (OIDC Core §5.3.2),
    // registered as their client metadata names them (jwtIntrospection, jwtUserinfo features).
    client_id: 'signed-client',
    client_secret: 'signed-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    scope: 'openid email offline_access api:read',
    userinfo_signed_response_alg: 'RS256',
    introspection_signed_response_alg: 'RS256',
  },
  {
    // JAR (RFC 9101): every authorization request must be a request object
    // (require_signed_request_object) signed ES256 with the P-256 key of ../fixtures/peer-client-jwks.json,
    // which also authenticates the client (private_key_jwt).
    client_id: 'jar-client',
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: CLIENT_JWKS,
    request_object_signing_alg: 'ES256',
    require_signed_request_object: true,
    grant_types: ['authorization_code', 'refresh_token'],
  },
  {
    // JARM: signed authorization responses (response_mode=jwt...) with ES256 instead of the default RS256.
    client_id: 'jarm-es256-client',
    client_secret: 'jarm-es256-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    authorization_signed_response_alg: 'ES256',
    grant_types: ['authorization_code', 'refresh_token'],
  },
  ...webAppClients(),
  ...mtlsClients(),
].map((c) => ({
  application_type: 'native',
  redirect_uris: REDIRECT_URIS,
  // device-client has no authorization_code grant, hence no response type.
  response_types: c.grant_types.includes('authorization_code') ? ['code'] : [],
  ...c,
}));

// Resource servers for RFC 8707 (features.resourceIndicators): JWT access tokens whose `aud` is the
// indicator, so a test can read which resource a token is for. Any other indicator is `invalid_target`
// (oidc-provider's default getResourceServerInfo), as before this list existed.
const RESOURCE_SERVERS = {
  'https://orders.grantkit.test/': { scope: 'api:read', audience: 'https://orders.grantkit.test/', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
  'https://reports.grantkit.test/': { scope: 'api:read', audience: 'https://reports.grantkit.test/', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
};

// ---------------------------------------------------------------------------------------------------
// Storage: one in-memory adapter shared by every Provider instance (key rotation builds a new
// instance), without the size-bounded LRU eviction of the library's built-in development adapter.
// ---------------------------------------------------------------------------------------------------
const store = new Map(); // key -> { value, expiresAt (ms epoch) | undefined }
const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
]);

function sget(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry.value;
}
function sset(key, value, expiresIn) {
  store.set(key, { value, expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined });
}
setInterval(() => { for (const k of store.keys()) sget(k); }, 60_000).unref();

class SharedMemoryAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    // With PEER_DEVICE_CODE_TTL, an expired device code is kept a minute longer so that polling it gives
    // RFC 8628's `expired_token` (the library checks expiry itself) instead of `invalid_grant` "not found".
    if (this.model === 'DeviceCode' && DEVICE_CODE_TTL_SET && typeof expiresIn === 'number') expiresIn += 60;
    if (this.model === 'Session') sset(`sessionUid:${payload.uid}`, id, expiresIn);
    if (GRANTABLE.has(this.model) && payload.grantId) {
      const gkey = `grant:${payload.grantId}`;
      const members = sget(gkey) ?? new Set();
      members.add(key);
      store.set(gkey, { value: members, expiresAt: undefined });
    }
    if (payload.userCode) sset(`userCode:${payload.userCode}`, id, expiresIn);
    sset(key, payload, expiresIn);
  }

  async find(id) { return sget(this.key(id)); }

  async findByUid(uid) {
    const id = sget(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = sget(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = sget(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    const gkey = `grant:${grantId}`;
    for (const key of sget(gkey) ?? []) store.delete(key);
    store.delete(gkey);
  }
}

// ---------------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------------
const rand = () => crypto.randomBytes(6).toString('hex');

function newRsaKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `rsa-${rand()}`, alg: 'RS256', use: 'sig' };
}
function newEcKey() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: `ec-${rand()}`, alg: 'ES256', use: 'sig' };
}

let rsaKey = newRsaKey(); // first key = default signer (RS256)
const ecKey = newEcKey();
const kids = () => [rsaKey.kid, ecKey.kid];

// Cookie signing keys must survive key rotation (sessions/interactions live in signed cookies).
const COOKIE_KEYS = [crypto.randomBytes(32).toString('hex')];

// ---------------------------------------------------------------------------------------------------
// Provider configuration
// ---------------------------------------------------------------------------------------------------
const ACCESS_TOKEN_TTL = Number.parseInt(process.env.PEER_ACCESS_TOKEN_TTL ?? '3600', 10) || 3600;
const DEVICE_INTERVAL = Number.parseInt(process.env.PEER_DEVICE_INTERVAL ?? '0', 10) || 0;
const DEVICE_CODE_TTL = Number.parseInt(process.env.PEER_DEVICE_CODE_TTL ?? '600', 10) || 600;
const DEVICE_CODE_TTL_SET = process.env.PEER_DEVICE_CODE_TTL !== undefined;
// The nonce secret must survive key rotation (a new Provider instance), like the cookie keys.
const DPOP_NONCE_SECRET = process.env.PEER_DPOP_NONCE === '1' ? crypto.randomBytes(32) : undefined;
const CONFIDENTIAL_ENDPOINTS = process.env.PEER_CONFIDENTIAL_ENDPOINTS === '1';
const REGISTRATION = process.env.PEER_REGISTRATION === '1';
const REGISTRATION_IAT = process.env.PEER_REGISTRATION_IAT || false;

// Refuses public clients at revocation/introspection (PEER_CONFIDENTIAL_ENDPOINTS=1) before the
// token is touched; otherwise the library's default policy.
function confidentialOnly(defaultPolicy) {
  return async (ctx, client, token) => {
    if (CONFIDENTIAL_ENDPOINTS && client.clientAuthMethod === 'none') {
      throw new errors.InvalidClient('client authentication is required at this endpoint');
    }
    return defaultPolicy ? defaultPolicy(ctx, client, token) : true;
  };
}

const capitalize = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

const htmlEscape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function configuration() {
  return {
    adapter: SharedMemoryAdapter,
    clients: CLIENTS,
    // oidc-provider accepts as `aud` the issuer, the token endpoint or the endpoint called, and
    // any `typ`. For `jwt-strict-*` clients, demand what draft-ietf-oauth-rfc7523bis §4 asks of
    // client authentication JWTs: the issuer identifier as the single `aud` string and the
    // header `typ: client-authentication+jwt`.
    async assertJwtClientAuthClaimsAndHeader(ctx, claims, header, client) {
      if (!client.clientId.startsWith('jwt-strict-')) return;
      if (claims.aud !== ctx.oidc.issuer) {
        throw new errors.InvalidClientAuth('aud must be the issuer identifier, as a string');
      }
      if (header.typ !== 'client-authentication+jwt') {
        throw new errors.InvalidClientAuth('typ must be client-authentication+jwt');
      }
    },
    fetch: (url, options) => globalThis.fetch(url, isWebAppUrl(url) ? { ...options, dispatcher: undefined } : options),
    jwks: { keys: [rsaKey, ecKey] },
    cookies: { keys: COOKIE_KEYS },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'api:read'],
    // The authentication contexts a login can report (oidc-provider drops the `acr` claim when
    // none are configured).
    acrValues: ['urn:grantkit:acr:weak', 'urn:grantkit:acr:mfa'],
    claims: {
      // `acr` is listed so that the ID token carries the login's authentication context.
      acr: null,
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: `${id}@example.test`, email_verified: true, name: capitalize(id) };
        },
      };
    },
    features: {
      devInteractions: { enabled: false },
      revocation: {
        enabled: true,
        allowedPolicy: confidentialOnly(async (_ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        }),
      },
      introspection: {
        enabled: true,
        allowedPolicy: confidentialOnly(async (ctx, client, token) => !(client.clientAuthMethod === 'none' && token.clientId !== ctx.oidc.client.clientId)),
      },
      userinfo: { enabled: true },
      claimsParameter: { enabled: true },
      backchannelLogout: { enabled: true },
      clientCredentials: { enabled: true },
      dPoP: {
        enabled: true,
        ...(DPOP_NONCE_SECRET ? { nonceSecret: DPOP_NONCE_SECRET, requireNonce: () => true } : {}),
      },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      // Enabled by default in oidc-provider 9; only the indicators of RESOURCE_SERVERS are known.
      // useGrantedResource stays false: with `openid` in the scope, a token request without
      // `resource` gets an opaque userinfo token, so a client must carry the indicator itself.
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo: async (_ctx, indicator) => {
          const info = RESOURCE_SERVERS[indicator];
          if (!info) throw new errors.InvalidTarget();
          return info;
        },
      },
      // Only clients registered with introspection_signed_response_alg / userinfo_signed_response_alg
      // get JWTs (the first when asking with Accept: application/token-introspection+jwt).
      jwtIntrospection: { enabled: true },
      jwtUserinfo: { enabled: true },
      // JAR (RFC 9101) for clients that send a request object; only `jar-client` must.
      requestObjects: { enabled: true, requireSignedRequestObject: false },
      // JARM: response_mode jwt, query.jwt, fragment.jwt, form_post.jwt on request.
      jwtResponseModes: { enabled: true },
      registration: { enabled: REGISTRATION, initialAccessToken: REGISTRATION_IAT },
      registrationManagement: { enabled: REGISTRATION, rotateRegistrationAccessToken: true },
      deviceFlow: {
        enabled: true,
        // Minimal pages (the library's defaults are styled HTML and log "you SHOULD change it" notices).
        // Both forms are POSTed back to /device and carry a hidden `xsrf` field.
        async userCodeInputSource(ctx, form, _out, err) {
          ctx.body = `<!DOCTYPE html><html><body><h1>Enter code</h1>${err ? `<p class="error">${htmlEscape(err.message || err.name)}</p>` : ''}${form}</body></html>`;
        },
        async userCodeConfirmSource(ctx, form, _client, _deviceInfo, userCode) {
          ctx.body = `<!DOCTYPE html><html><body><h1>Confirm</h1><p>code ${htmlEscape(userCode)}</p>${form}</body></html>`;
        },
        async successSource(ctx) {
          ctx.body = '<!DOCTYPE html><html><body><h1>Sign-in Success</h1></body></html>';
        },
      },
    },
    // Refresh tokens for every client that may use the refresh_token grant (not only with offline_access).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Every refresh rotates (public and confidential clients alike); reusing a rotated one revokes the grant.
    rotateRefreshToken: true,
    // Only S256 exists. Public clients must use PKCE; confidential clients may (and are checked if they do).
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    // Explicit lifetimes (seconds); the library's default functions log a notice on every use.
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL,
      ClientCredentials: ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      DeviceCode: DEVICE_CODE_TTL,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Auto-approving interaction handler (replaces the login/consent UI)
// ---------------------------------------------------------------------------------------------------
function claimNames(claimsParam) {
  if (!claimsParam) return [];
  try {
    const parsed = typeof claimsParam === 'string' ? JSON.parse(claimsParam) : claimsParam;
    return [...new Set([...Object.keys(parsed.userinfo ?? {}), ...Object.keys(parsed.id_token ?? {})])];
  } catch {
    return [];
  }
}

// Without `acr_values`, the first value of an essential `acr` in the `claims` parameter is what
// the login achieved (grantkit-axum's step-up sends the essential form only: oidc-provider's
// assignClaims replaces it by a voluntary one when `acr_values` is present).
function essentialAcr(claimsParam) {
  try {
    const acr = JSON.parse(claimsParam ?? '{}').id_token?.acr;
    return acr?.essential ? (acr.value ?? acr.values?.[0]) : undefined;
  } catch {
    return undefined;
  }
}

async function handleInteraction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { params, prompt } = details;
  const hint = params.login_hint;

  if (hint === 'deny') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'the user denied the request',
    }, { mergeWithLastSubmission: false });
    return;
  }

  const accountId = hint || 'alice';
  let grant;
  if (details.grantId) {
    grant = await provider.Grant.find(details.grantId);
    if (grant && grant.accountId !== accountId) grant = undefined;
  }
  grant ??= new provider.Grant({ accountId, clientId: params.client_id });

  // Grant everything requested, whichever prompt (login or consent) we were sent here for.
  if (params.scope) grant.addOIDCScope(params.scope);
  const claims = [...claimNames(params.claims), ...(prompt.details.missingOIDCClaims ?? [])];
  // `acr_values` asks for the `acr` claim in the ID token (OpenID Connect Core §3.1.2.1).
  if (params.acr_values) claims.push('acr');
  if (claims.length) grant.addOIDCClaims(claims);
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();

  // `weak-acr` logs in with a weak authentication context whatever was asked; `stale-login`
  // reports an authentication an hour old (a provider that ignored `max_age`). Otherwise the
  // first `acr_values` entry is what the login achieved.
  const acr = hint === 'weak-acr' ? 'urn:grantkit:acr:weak' : (params.acr_values?.split(' ')[0] ?? essentialAcr(params.claims));
  const ts = hint === 'stale-login' ? Math.floor(Date.now() / 1000) - 3600 : undefined;
  await provider.interactionFinished(req, res, {
    login: { accountId, ...(acr ? { acr } : {}), ...(ts ? { ts } : {}) },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

// ---------------------------------------------------------------------------------------------------
// HTTP server: control endpoints + interactions here, everything else to the current Provider.
// ---------------------------------------------------------------------------------------------------
let provider;
let providerHandler;

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  const type = req.headers['content-type'] ?? '';
  if (type.includes('application/json')) return body ? JSON.parse(body) : {};
  return Object.fromEntries(new URLSearchParams(body));
}

// Device flow (RFC 8628) user step, done by this process against itself over HTTP exactly like a browser:
// GET /device (xsrf token in a hidden field, session cookie) -> POST /device xsrf+user_code+confirm=yes
// (or abort=yes) -> 303 /interaction/<uid> -> 303 /device/<uid> -> 200 success page.
async function approveDevice(issuer, userCode, deny) {
  const jar = new Map();
  const call = async (url, init = {}) => {
    const headers = { ...init.headers, cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
    const res = await fetch(new URL(url, issuer), { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
    return res;
  };
  const page = await (await call('/device')).text();
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(page)?.[1];
  if (!xsrf) throw new Error('no xsrf field on /device');
  let res = await call('/device', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ xsrf, user_code: userCode, ...(deny ? { abort: 'yes' } : { confirm: 'yes' }) }).toString(),
  });
  const steps = [];
  for (let i = 0; i < 5 && res.status >= 300 && res.status < 400; i += 1) {
    const next = res.headers.get('location');
    steps.push(next);
    await res.arrayBuffer();
    res = await call(next);
  }
  const text = await res.text();
  return { status: res.status, steps, success: res.status === 200 && text.includes('Sign-in Success'), body: text };
}

// PEER_DEVICE_INTERVAL: oidc-provider sends no `interval` and never `slow_down`; this adds both
// (RFC 8628 §3.2, §3.5). A poll sooner than the interval after the previous poll (or after the device
// authorization) gets `slow_down`, and that device code's interval grows by 5 s, as the client's must.
const devicePolls = new Map(); // device_code -> { last: ms epoch, interval: seconds }

async function deviceInterval(ctx, next) {
  await next();
  const body = ctx.body;
  if (ctx.path === '/device/auth' && ctx.status === 200 && body && typeof body === 'object') {
    ctx.body = { ...body, interval: DEVICE_INTERVAL };
    devicePolls.set(body.device_code, { last: Date.now(), interval: DEVICE_INTERVAL });
    return;
  }
  const code = ctx.oidc?.params?.device_code;
  if (ctx.path !== '/token' || typeof code !== 'string' || !devicePolls.has(code)) return;
  const poll = devicePolls.get(code);
  const now = Date.now();
  const tooSoon = now - poll.last < poll.interval * 1000 - 50;
  poll.last = now;
  if (ctx.status === 400 && body?.error === 'authorization_pending' && tooSoon) {
    poll.interval += 5;
    ctx.body = { error: 'slow_down', error_description: `poll at most every ${poll.interval} seconds` };
  }
}

// oidc-provider does not publish per-endpoint auth methods; with PEER_CONFIDENTIAL_ENDPOINTS=1 the
// discovery document declares the confidential-only policy that confidentialOnly enforces.
async function endpointAuthMethods(ctx, next) {
  await next();
  if (ctx.path !== '/.well-known/openid-configuration' || ctx.status !== 200 || !ctx.body) return;
  const confidential = (ctx.body.token_endpoint_auth_methods_supported ?? []).filter((m) => m !== 'none');
  ctx.body = {
    ...ctx.body,
    revocation_endpoint_auth_methods_supported: confidential,
    introspection_endpoint_auth_methods_supported: confidential,
  };
}

// Servers that decode Basic credentials with a plain percent-decoder read `+` as a plus, where a
// form-decoder (oidc-provider's own) reads a space. Decode plainly here and hand oidc-provider the
// result re-encoded, so a client sending `+` for a space is refused as by those servers.
function decodeBasicPlainly(req) {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !/^basic /i.test(header)) return;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return;
  try {
    const [id, secret] = [decoded.slice(0, i), decoded.slice(i + 1)].map(decodeURIComponent);
    const pair = `${encodeURIComponent(id)}:${encodeURIComponent(secret)}`;
    req.headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  } catch {
    // Malformed percent-encoding: leave it for oidc-provider to refuse.
  }
}

// ---------------------------------------------------------------------------------------------------
// Extension grants: token exchange (RFC 8693), JWT bearer (RFC 7523 §2.1), and an echo grant that
// answers with the parameters it received (for tests of a grant the client library does not know).
// ---------------------------------------------------------------------------------------------------
async function issueAccessToken(p, ctx, accountId, scope, gty) {
  const { client } = ctx.oidc;
  const grant = new p.Grant({ accountId, clientId: client.clientId });
  if (scope) grant.addOIDCScope(scope);
  const grantId = await grant.save();
  const token = new p.AccessToken({ accountId, client, grantId, gty, scope: scope || undefined });
  const value = await token.save();
  return { access_token: value, token_type: 'Bearer', expires_in: token.expiration, ...(scope ? { scope } : {}) };
}

// A subject or actor token must be an access token this peer issued and that is still valid.
async function findAccessToken(p, token, type, what) {
  if (type !== ACCESS_TOKEN_TYPE) {
    throw new errors.InvalidRequest(`${what}_token_type must be ${ACCESS_TOKEN_TYPE}`);
  }
  const found = (await p.AccessToken.find(token)) ?? (await p.ClientCredentials.find(token));
  if (!found || found.isExpired) throw new errors.InvalidGrant(`${what}_token is invalid or expired`);
  return found;
}

function registerExtensionGrants(p, issuer) {
  p.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
    const params = ctx.oidc.params;
    const subject = await findAccessToken(p, params.subject_token, params.subject_token_type, 'subject');
    const actor = params.actor_token
      ? await findAccessToken(p, params.actor_token, params.actor_token_type, 'actor')
      : undefined;
    if (params.requested_token_type && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest('only access tokens are issued here');
    }
    const body = await issueAccessToken(p, ctx, subject.accountId ?? subject.clientId, params.scope, 'token-exchange');
    ctx.body = {
      ...body,
      issued_token_type: ACCESS_TOKEN_TYPE,
      // Not RFC 8693 members: they let tests see what arrived.
      exchanged_for: subject.accountId ?? subject.clientId,
      ...(actor ? { act: { sub: actor.accountId ?? actor.clientId } } : {}),
      ...(params.audience ? { audience: params.audience } : {}),
    };
  }, ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'audience', 'resource', 'scope'], ['audience', 'resource']);

  // RFC 7523 §3: iss = the client, sub = the user, aud = the issuer (or the token endpoint),
  // exp in the future, signed with one of the client's registered keys.
  p.registerGrantType(JWT_BEARER, async (ctx) => {
    const { client, params } = ctx.oidc;
    const { createLocalJWKSet, jwtVerify } = await import('jose');
    let payload;
    try {
      ({ payload } = await jwtVerify(params.assertion, createLocalJWKSet(CLIENT_JWKS), {
        issuer: client.clientId,
        audience: [issuer, `${issuer}/token`],
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      }));
    } catch (err) {
      throw new errors.InvalidGrant(`assertion refused: ${err.code || err.message}`);
    }
    if (typeof payload.sub !== 'string' || !payload.sub) throw new errors.InvalidGrant('assertion has no sub');
    ctx.body = await issueAccessToken(p, ctx, payload.sub, params.scope, 'jwt-bearer');
  }, ['assertion', 'scope']);

  p.registerGrantType(ECHO_GRANT, async (ctx) => {
    const body = await issueAccessToken(p, ctx, ctx.oidc.client.clientId, undefined, 'echo');
    const { grant_type: _grantType, client_id: _id, client_secret: _secret, ...echo } = ctx.oidc.body;
    ctx.body = { ...body, echo };
  }, []);
}

// Tests tag a request with `x_trace=<unique>`; the form that carried it (every parameter the
// endpoint received, whatever the endpoint reads) is kept for GET /__control/form?x_trace=<unique>.
const tracedForms = new Map();
async function traceForms(ctx, next) {
  await next();
  const body = ctx.oidc?.body;
  if (body && typeof body.x_trace === 'string') {
    tracedForms.set(body.x_trace, { path: ctx.path, form: { ...body } });
  }
}

function buildProvider(issuer) {
  const p = new Provider(issuer, withMtls(issuer, configuration()));
  p.on('server_error', (_ctx, err) => console.error('oidc-peer server_error:', err));
  registerExtensionGrants(p, issuer);
  p.use(traceForms);
  if (CONFIDENTIAL_ENDPOINTS) p.use(endpointAuthMethods);
  if (DEVICE_INTERVAL > 0) p.use(deviceInterval);
  return p;
}

async function route(issuer, req, res) {
  const { pathname } = new URL(req.url, issuer);

  if (pathname === '/__control/rotate-keys' && req.method === 'POST') {
    req.resume();
    rsaKey = newRsaKey();
    const next = buildProvider(issuer);
    provider = next;
    providerHandler = next.callback();
    console.error(`oidc-peer: rotated keys, now publishing ${kids().join(', ')}`);
    json(res, 200, { kids: kids() });
    return;
  }
  if (pathname === '/__control/kids' && req.method === 'GET') {
    json(res, 200, { kids: kids() });
    return;
  }
  if (pathname === '/__control/device/approve' && req.method === 'POST') {
    const form = await readForm(req);
    if (!form.user_code) {
      json(res, 400, { error: 'invalid_request', error_description: 'user_code is required' });
      return;
    }
    const deny = form.action === 'deny';
    const result = await approveDevice(issuer, form.user_code, deny);
    if (deny) {
      const denied = result.body.includes('aborted');
      json(res, denied ? 200 : 400, { denied, ...(denied ? {} : { status: result.status, body: result.body.slice(0, 2000) }) });
    } else {
      json(res, result.success ? 200 : 400, {
        approved: result.success,
        steps: result.steps,
        ...(result.success ? {} : { status: result.status, body: result.body.slice(0, 2000) }),
      });
    }
    return;
  }
  if (pathname === '/__control/form' && req.method === 'GET') {
    const trace = new URL(req.url, issuer).searchParams.get('x_trace');
    const traced = tracedForms.get(trace);
    json(res, traced ? 200 : 404, traced ?? { error: 'not_found' });
    return;
  }
  if (pathname.startsWith('/__control/')) {
    json(res, 404, { error: 'not_found' });
    return;
  }

  const m = /^\/interaction\/([^/]+)\/?$/.exec(pathname);
  if (m && req.method === 'GET') {
    try {
      await handleInteraction(provider, req, res);
    } catch (err) {
      console.error('oidc-peer interaction error:', err);
      if (!res.headersSent) {
        json(res, 400, { error: err.error || 'invalid_request', error_description: err.error_description || err.message });
      }
    }
    return;
  }

  if (TLS && pathname.startsWith(MTLS_PREFIX)) {
    // An alias: the provider sees the plain route, and getCertificate the client certificate.
    req.url = req.url.slice(MTLS_PREFIX.length - 1);
    req.viaMtlsAlias = true;
  }
  decodeBasicPlainly(req);
  providerHandler(req, res);
}

const server = TLS
  ? https.createServer({ cert: TLS.cert, key: TLS.key, ca: TLS.ca, requestCert: true, rejectUnauthorized: false })
  : http.createServer();
server.listen(Number.parseInt(process.env.PEER_PORT ?? '0', 10) || 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `${TLS ? 'https' : 'http'}://127.0.0.1:${port}`;
  provider = buildProvider(issuer);
  providerHandler = provider.callback();
  server.on('request', (req, res) => {
    route(issuer, req, res).catch((err) => {
      console.error('oidc-peer error:', err);
      if (!res.headersSent) json(res, 500, { error: 'server_error' });
    });
  });
  console.error(`oidc-peer: issuer ${issuer}, kids ${kids().join(', ')}`);
  process.stdout.write(`GRANTKIT_PEER_URL=${issuer}\n`);
});

function shutdown(why) {
  console.error(`oidc-peer: exiting (${why})`);
  server.closeAllConnections?.();
  server.close();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (process.env.PEER_IGNORE_STDIN !== '1') {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}
