#!/usr/bin/env bash
# Smoke test of the OIDC test peer with curl only (node -e for JSON/PKCE helpers).
# Usage: bash smoke.sh        (runs `npm ci` first if node_modules is missing)
# Exits non-zero on the first failure; prints "N passed, 0 failed" at the end on success.
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TMP="$(mktemp -d)"
PID=""
PASSED=0

cleanup() {
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "--- server stderr ---" >&2
  cat "$TMP/server.err" >&2 || true
  echo "1 failed" >&2
  exit 1
}
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }

# json FILE EXPR  -> prints the value of the JS expression EXPR evaluated with `d` = parsed JSON ('' if undefined)
json() { node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); const v=(0,eval)("(d)=>"+process.argv[2])(d); process.stdout.write(v===undefined||v===null?"":(typeof v==="object"?JSON.stringify(v):String(v)))' "$1" "$2"; }
# query URL NAME -> prints the query parameter NAME of URL
query() { node -e 'process.stdout.write(new URL(process.argv[1]).searchParams.get(process.argv[2]) ?? "")' "$1" "$2"; }
# formenc STRING -> application/x-www-form-urlencoded encoding (RFC 6749 2.3.1)
formenc() { node -e 'process.stdout.write(new URLSearchParams({x:process.argv[1]}).toString().slice(2))' "$1"; }
# basic ID SECRET -> value of an Authorization header per RFC 6749 2.3.1
basic() { printf 'Basic %s' "$(printf '%s:%s' "$(formenc "$1")" "$(formenc "$2")" | base64 -w0)"; }
# jwt_part JWT N -> decoded JSON of part N (0 header, 1 payload)
jwt_part() { node -e 'process.stdout.write(Buffer.from(process.argv[1].split(".")[+process.argv[2]],"base64url").toString())' "$1" "$2"; }

# ---- start the server; stdin is a FIFO we hold open, so the server also dies with this script ----
if [[ ! -d "$DIR/node_modules/oidc-provider" ]]; then (cd "$DIR" && npm ci --no-audit --no-fund >&2); fi
mkfifo "$TMP/stdin"
exec 3<>"$TMP/stdin"
node "$DIR/server.mjs" <"$TMP/stdin" >"$TMP/server.out" 2>"$TMP/server.err" 3>&- &
PID=$!
for _ in $(seq 1 100); do
  grep -q '^GRANTKIT_PEER_URL=' "$TMP/server.out" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || fail "server exited early"
  sleep 0.1
done
ISSUER="$(sed -n 's/^GRANTKIT_PEER_URL=//p' "$TMP/server.out")"
[[ "$ISSUER" =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "no GRANTKIT_PEER_URL line on stdout"
[[ "$(wc -l <"$TMP/server.out")" -eq 1 ]] || fail "stdout has more than the URL line"
ok "server up at $ISSUER"

# ---- discovery ----
curl -sf "$ISSUER/.well-known/openid-configuration" -o "$TMP/disc.json" || fail "discovery"
[[ "$(json "$TMP/disc.json" d.issuer)" == "$ISSUER" ]] || fail "issuer mismatch in discovery"
[[ "$(json "$TMP/disc.json" d.authorization_response_iss_parameter_supported)" == "true" ]] || fail "iss parameter not advertised"
TOKEN_EP="$(json "$TMP/disc.json" d.token_endpoint)"
AUTH_EP="$(json "$TMP/disc.json" d.authorization_endpoint)"
for k in userinfo_endpoint revocation_endpoint introspection_endpoint device_authorization_endpoint pushed_authorization_request_endpoint jwks_uri; do
  [[ -n "$(json "$TMP/disc.json" "d.$k")" ]] || fail "discovery lacks $k"
done
ok "discovery"

# authorize JAR CLIENT_ID REDIRECT_URI EXTRA_QUERY -> sets CALLBACK (the final Location) and VERIFIER
# Follows redirects by hand (relative Locations resolved against the issuer) until the redirect_uri.
authorize() {
  local jar="$1" client="$2" redirect="$3" extra="$4" url loc i
  read -r VERIFIER CHALLENGE < <(node -e 'const c=require("crypto");const v=c.randomBytes(32).toString("base64url");console.log(v,c.createHash("sha256").update(v).digest("base64url"))')
  STATE="st-$RANDOM$RANDOM"
  url="$AUTH_EP?$(node -e 'const [c,r,s,ch,extra]=process.argv.slice(1); const p=new URLSearchParams({client_id:c,response_type:"code",scope:"openid email profile",redirect_uri:r,state:s,nonce:"n-"+s,code_challenge:ch,code_challenge_method:"S256"}); for (const [k,v] of new URLSearchParams(extra)) p.set(k,v); process.stdout.write(p.toString())' "$client" "$redirect" "$STATE" "$CHALLENGE" "$extra")"
  CALLBACK=""
  for i in 1 2 3 4 5 6 7 8; do
    curl -s -o "$TMP/body" -D "$TMP/headers" -b "$jar" -c "$jar" "$url" || fail "GET $url"
    loc="$(grep -i '^location:' "$TMP/headers" | head -1 | sed 's/^[Ll]ocation: *//' | tr -d '\r')"
    [[ -n "$loc" ]] || { cat "$TMP/body" >&2; fail "no Location at step $i ($url)"; }
    echo "   step $i: $(head -1 "$TMP/headers" | tr -d '\r') -> ${loc:0:90}"
    case "$loc" in
      "${redirect%%/callback*}"/callback*) CALLBACK="$loc"; return 0 ;;
      /*) url="$ISSUER$loc" ;;
      *) url="$loc" ;;
    esac
  done
  fail "too many redirects"
}

# ---- 1. public-client: code + PKCE, any loopback port (native client) ----
REDIR="http://127.0.0.1/callback"
authorize "$TMP/jar1" public-client "$REDIR" ""
CODE="$(query "$CALLBACK" code)"
[[ -n "$CODE" ]] || fail "no code in $CALLBACK"
[[ "$(query "$CALLBACK" state)" == "$STATE" ]] || fail "state mismatch"
[[ "$(query "$CALLBACK" iss)" == "$ISSUER" ]] || fail "iss missing/mismatch in $CALLBACK"
ok "public-client authorization response has code, state, iss"

curl -s -o "$TMP/tok.json" -w '%{http_code}' "$TOKEN_EP" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
  --data-urlencode "redirect_uri=$REDIR" --data-urlencode "code_verifier=$VERIFIER" \
  --data-urlencode client_id=public-client >"$TMP/status"
[[ "$(cat "$TMP/status")" == 200 ]] || fail "token exchange: $(cat "$TMP/tok.json")"
AT="$(json "$TMP/tok.json" d.access_token)"; IDT="$(json "$TMP/tok.json" d.id_token)"; RT="$(json "$TMP/tok.json" d.refresh_token)"
[[ -n "$AT" && -n "$IDT" && -n "$RT" ]] || fail "missing tokens: $(cat "$TMP/tok.json")"
[[ "$(jwt_part "$IDT" 0 | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0)).alg)')" == RS256 ]] || fail "id_token not RS256"
ok "public-client token exchange: access_token, id_token (RS256), refresh_token"

curl -sf -H "Authorization: Bearer $AT" "$ISSUER/me" -o "$TMP/me.json" || fail "userinfo"
[[ "$(json "$TMP/me.json" d.sub)/$(json "$TMP/me.json" d.email)/$(json "$TMP/me.json" d.name)" == "alice/alice@example.test/Alice" ]] || fail "userinfo claims: $(cat "$TMP/me.json")"
ok "userinfo: sub, email, name"

curl -s -o "$TMP/ref.json" "$TOKEN_EP" --data-urlencode grant_type=refresh_token \
  --data-urlencode "refresh_token=$RT" --data-urlencode client_id=public-client
RT2="$(json "$TMP/ref.json" d.refresh_token)"
[[ -n "$(json "$TMP/ref.json" d.access_token)" && -n "$RT2" && "$RT2" != "$RT" ]] || fail "refresh did not rotate: $(cat "$TMP/ref.json")"
ok "public-client refresh rotates the refresh token"

# A pinned-port redirect URI from a second authorization with the same jar (session reused).
authorize "$TMP/jar1" public-client "http://127.0.0.1:8976/callback" "login_hint=alice"
[[ -n "$(query "$CALLBACK" code)" ]] || fail "second authorization"
ok "second authorization with the same cookie jar"

# ---- 2. basic-client: HTTP Basic with form-urlencoded credentials, redirect on a random port ----
SECRET='basic+secret%with:odd/chars'
REDIR="http://127.0.0.1:54321/callback"
authorize "$TMP/jar2" basic-client "$REDIR" "login_hint=bob&scope=openid email api:read"
CODE="$(query "$CALLBACK" code)"
[[ -n "$CODE" && "$(query "$CALLBACK" iss)" == "$ISSUER" ]] || fail "basic-client authorization: $CALLBACK"
ok "basic-client authorization (loopback port 54321 accepted)"

# Raw (not form-urlencoded) credentials must be refused.
st="$(curl -s -o "$TMP/bad.json" -w '%{http_code}' "$TOKEN_EP" -H "Authorization: Basic $(printf '%s:%s' basic-client "$SECRET" | base64 -w0)" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$REDIR" --data-urlencode "code_verifier=$VERIFIER")"
[[ "$st" != 200 ]] || fail "raw Basic credentials were accepted"
ok "raw (un-encoded) Basic credentials refused: $st $(json "$TMP/bad.json" d.error)"

st="$(curl -s -o "$TMP/tok.json" -w '%{http_code}' "$TOKEN_EP" -H "Authorization: $(basic basic-client "$SECRET")" \
  --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$REDIR" --data-urlencode "code_verifier=$VERIFIER")"
[[ "$st" == 200 ]] || fail "basic-client token exchange: $st $(cat "$TMP/tok.json")"
AT="$(json "$TMP/tok.json" d.access_token)"; RT="$(json "$TMP/tok.json" d.refresh_token)"
[[ -n "$AT" && -n "$(json "$TMP/tok.json" d.id_token)" && -n "$RT" ]] || fail "basic-client tokens: $(cat "$TMP/tok.json")"
ok "basic-client token exchange with encoded Basic credentials (scope: $(json "$TMP/tok.json" d.scope))"

curl -s -o "$TMP/ref.json" "$TOKEN_EP" -H "Authorization: $(basic basic-client "$SECRET")" \
  --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$RT"
RT2="$(json "$TMP/ref.json" d.refresh_token)"
[[ -n "$RT2" && "$RT2" != "$RT" ]] || fail "basic-client refresh did not rotate: $(cat "$TMP/ref.json")"
ok "basic-client refresh rotates the refresh token"

# Reusing the rotated-out refresh token: invalid_grant, and the whole grant is revoked.
st="$(curl -s -o "$TMP/reuse.json" -w '%{http_code}' "$TOKEN_EP" -H "Authorization: $(basic basic-client "$SECRET")" \
  --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$RT")"
[[ "$st" == 400 && "$(json "$TMP/reuse.json" d.error)" == invalid_grant ]] || fail "reuse: $st $(cat "$TMP/reuse.json")"
curl -s -o "$TMP/intro.json" "$ISSUER/token/introspection" -H "Authorization: $(basic basic-client "$SECRET")" --data-urlencode "token=$RT2"
[[ "$(json "$TMP/intro.json" d.active)" == false ]] || fail "new RT still active after reuse: $(cat "$TMP/intro.json")"
ok "refresh-token reuse -> 400 invalid_grant and the grant (incl. the newest RT) is revoked"

# client_credentials with scope api:read, then introspection and revocation.
curl -s -o "$TMP/cc.json" "$TOKEN_EP" -H "Authorization: $(basic basic-client "$SECRET")" \
  --data-urlencode grant_type=client_credentials --data-urlencode "scope=api:read"
CCAT="$(json "$TMP/cc.json" d.access_token)"
[[ -n "$CCAT" && "$(json "$TMP/cc.json" d.scope)" == "api:read" ]] || fail "client_credentials: $(cat "$TMP/cc.json")"
curl -s -o "$TMP/intro.json" "$ISSUER/token/introspection" -H "Authorization: $(basic basic-client "$SECRET")" --data-urlencode "token=$CCAT"
[[ "$(json "$TMP/intro.json" d.active)" == true && "$(json "$TMP/intro.json" d.scope)" == "api:read" ]] || fail "introspection: $(cat "$TMP/intro.json")"
st="$(curl -s -o "$TMP/rev.txt" -w '%{http_code}' "$ISSUER/token/revocation" -H "Authorization: $(basic basic-client "$SECRET")" --data-urlencode "token=$CCAT")"
[[ "$st" == 200 && ! -s "$TMP/rev.txt" ]] || fail "revocation: $st $(cat "$TMP/rev.txt")"
curl -s -o "$TMP/intro.json" "$ISSUER/token/introspection" -H "Authorization: $(basic basic-client "$SECRET")" --data-urlencode "token=$CCAT"
[[ "$(json "$TMP/intro.json" d.active)" == false ]] || fail "revoked token still active"
ok "client_credentials (scope api:read), introspection active, revocation 200 empty, then inactive"

# ---- 3. post-client and es256-client ----
REDIR="http://127.0.0.1/callback"
authorize "$TMP/jar3" post-client "$REDIR" ""
curl -s -o "$TMP/tok.json" "$TOKEN_EP" --data-urlencode grant_type=authorization_code \
  --data-urlencode "code=$(query "$CALLBACK" code)" --data-urlencode "redirect_uri=$REDIR" --data-urlencode "code_verifier=$VERIFIER" \
  --data-urlencode client_id=post-client --data-urlencode client_secret=post-secret-123
[[ -n "$(json "$TMP/tok.json" d.refresh_token)" ]] || fail "post-client: $(cat "$TMP/tok.json")"
ok "post-client (client_secret_post) code flow"

authorize "$TMP/jar3" es256-client "$REDIR" ""
curl -s -o "$TMP/tok.json" "$TOKEN_EP" -H "Authorization: $(basic es256-client es256-secret)" --data-urlencode grant_type=authorization_code \
  --data-urlencode "code=$(query "$CALLBACK" code)" --data-urlencode "redirect_uri=$REDIR" --data-urlencode "code_verifier=$VERIFIER"
IDT="$(json "$TMP/tok.json" d.id_token)"
[[ -n "$IDT" ]] || fail "es256-client: $(cat "$TMP/tok.json")"
[[ "$(jwt_part "$IDT" 0 | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0)).alg)')" == ES256 ]] || fail "es256-client id_token alg"
ok "es256-client id_token signed ES256"

# ---- 4. denial ----
authorize "$TMP/jar4" public-client "http://127.0.0.1/callback" "login_hint=deny"
[[ "$(query "$CALLBACK" error)" == access_denied && "$(query "$CALLBACK" state)" == "$STATE" && "$(query "$CALLBACK" iss)" == "$ISSUER" ]] || fail "deny: $CALLBACK"
ok "login_hint=deny -> error=access_denied (with state and iss)"

# ---- 5. device flow, user step via the control endpoint ----
curl -s -o "$TMP/dev.json" "$ISSUER/device/auth" --data-urlencode client_id=device-client --data-urlencode "scope=openid email"
DC="$(json "$TMP/dev.json" d.device_code)"; UC="$(json "$TMP/dev.json" d.user_code)"
[[ -n "$DC" && -n "$UC" ]] || fail "device authorization: $(cat "$TMP/dev.json")"
curl -s -o "$TMP/pend.json" "$TOKEN_EP" --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:device_code --data-urlencode "device_code=$DC" --data-urlencode client_id=device-client
[[ "$(json "$TMP/pend.json" d.error)" == authorization_pending ]] || fail "device pending: $(cat "$TMP/pend.json")"
curl -s -o "$TMP/appr.json" "$ISSUER/__control/device/approve" --data-urlencode "user_code=$UC"
[[ "$(json "$TMP/appr.json" d.approved)" == true ]] || fail "device approve: $(cat "$TMP/appr.json")"
curl -s -o "$TMP/tok.json" "$TOKEN_EP" --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:device_code --data-urlencode "device_code=$DC" --data-urlencode client_id=device-client
[[ -n "$(json "$TMP/tok.json" d.access_token)" && -n "$(json "$TMP/tok.json" d.refresh_token)" ]] || fail "device token: $(cat "$TMP/tok.json")"
ok "device flow: authorization_pending, approve, tokens"
curl -s -o "$TMP/dev.json" "$ISSUER/device/auth" --data-urlencode client_id=device-client --data-urlencode "scope=openid"
curl -s -o "$TMP/deny.json" "$ISSUER/__control/device/approve" --data-urlencode "user_code=$(json "$TMP/dev.json" d.user_code)" --data-urlencode action=deny
[[ "$(json "$TMP/deny.json" d.denied)" == true ]] || fail "device deny: $(cat "$TMP/deny.json")"
curl -s -o "$TMP/tok.json" "$TOKEN_EP" --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:device_code --data-urlencode "device_code=$(json "$TMP/dev.json" d.device_code)" --data-urlencode client_id=device-client
[[ "$(json "$TMP/tok.json" d.error)" == access_denied ]] || fail "denied device code: $(cat "$TMP/tok.json")"
ok "device flow: deny -> access_denied at the token endpoint"

# ---- 6. key rotation ----
curl -sf "$ISSUER/jwks" -o "$TMP/jwks1.json" || fail "jwks"
OLD_RSA="$(json "$TMP/jwks1.json" 'd.keys.find(k=>k.kty==="RSA").kid')"
# A refresh token issued before the rotation (public-client flow from a fresh jar).
authorize "$TMP/jar5" public-client "http://127.0.0.1/callback" ""
curl -s -o "$TMP/tok.json" "$TOKEN_EP" --data-urlencode grant_type=authorization_code --data-urlencode "code=$(query "$CALLBACK" code)" \
  --data-urlencode "redirect_uri=http://127.0.0.1/callback" --data-urlencode "code_verifier=$VERIFIER" --data-urlencode client_id=public-client
RT="$(json "$TMP/tok.json" d.refresh_token)"; AT="$(json "$TMP/tok.json" d.access_token)"
curl -s -X POST -o "$TMP/rot.json" "$ISSUER/__control/rotate-keys"
curl -sf "$ISSUER/jwks" -o "$TMP/jwks2.json" || fail "jwks after rotation"
NEW_RSA="$(json "$TMP/jwks2.json" 'd.keys.find(k=>k.kty==="RSA").kid')"
[[ -n "$NEW_RSA" && "$NEW_RSA" != "$OLD_RSA" ]] || fail "RSA kid did not change"
[[ "$(json "$TMP/jwks2.json" "d.keys.some(k=>k.kid===\"$OLD_RSA\")")" == false ]] || fail "old kid still published"
[[ "$(json "$TMP/rot.json" 'd.kids.join(",")')" == "$(json "$TMP/jwks2.json" 'd.keys.map(k=>k.kid).join(",")')" ]] || fail "rotate-keys answer != jwks"
curl -sf "$ISSUER/__control/kids" -o "$TMP/kids.json" || fail "kids"
[[ "$(json "$TMP/kids.json" 'd.kids.join(",")')" == "$(json "$TMP/rot.json" 'd.kids.join(",")')" ]] || fail "GET kids"
ok "rotate-keys: new RSA kid $NEW_RSA published, old $OLD_RSA gone"

curl -sf -H "Authorization: Bearer $AT" "$ISSUER/me" -o /dev/null || fail "pre-rotation access token rejected"
curl -s -o "$TMP/ref.json" "$TOKEN_EP" --data-urlencode grant_type=refresh_token --data-urlencode "refresh_token=$RT" --data-urlencode client_id=public-client
IDT="$(json "$TMP/ref.json" d.id_token)"
[[ -n "$IDT" ]] || fail "pre-rotation refresh token: $(cat "$TMP/ref.json")"
[[ "$(jwt_part "$IDT" 0 | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0)).kid)')" == "$NEW_RSA" ]] || fail "new id_token not signed with new kid"
authorize "$TMP/jar5" public-client "http://127.0.0.1/callback" ""
[[ -n "$(query "$CALLBACK" code)" ]] || fail "authorization with pre-rotation session"
ok "after rotation: old access/refresh tokens and session still work; new id_token uses $NEW_RSA"

# ---- 7. shutdown via stdin EOF ----
exec 3>&-
for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && fail "server still running after stdin closed"
wait "$PID" || fail "server exit status $?"
PID=""
ok "server exits cleanly when stdin closes"

echo "$PASSED passed, 0 failed"
