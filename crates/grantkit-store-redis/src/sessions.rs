//! grantkit-axum's [`SessionStore`] on Redis (feature `axum-sessions`): replicas sharing one
//! Redis share their sessions, so a login, a logout or a back-channel logout received by one
//! replica holds for all.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use grantkit::store::BoxFuture;
use grantkit_axum::{Session, SessionError, SessionIndex, SessionStore};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};

/// Replaces a session and moves its index entries, in one step (a reader never sees the
/// session indexed under an old `sid`). KEYS[1] the session; ARGV: record, expiry (ms since
/// the epoch), the member name, then the index sets.
const SAVE: &str = r#"
local old = redis.call("GET", KEYS[1])
if old then
  for _, set in ipairs(cjson.decode(old)["index"]) do redis.call("SREM", set, ARGV[3]) end
end
redis.call("SET", KEYS[1], ARGV[1], "PXAT", ARGV[2])
for i = 4, #ARGV do
  redis.call("SADD", ARGV[i], ARGV[3])
  local at = redis.call("PEXPIRETIME", ARGV[i])
  if at < tonumber(ARGV[2]) then redis.call("PEXPIREAT", ARGV[i], ARGV[2]) end
end
return 1
"#;

/// Deletes a session and its index entries. KEYS[1] the session; ARGV[1] the member name.
const DELETE: &str = r#"
local old = redis.call("GET", KEYS[1])
if old then
  for _, set in ipairs(cjson.decode(old)["index"]) do redis.call("SREM", set, ARGV[1]) end
  redis.call("DEL", KEYS[1])
end
return 1
"#;

/// What is stored under a session's key: the session and the index sets it is in.
#[derive(Serialize, Deserialize)]
struct Record {
    session: Session,
    index: Vec<String>,
}

/// Sessions in Redis under `{prefix}:session:{key}` (expiring with the session), indexed for
/// back-channel logout in sets `{prefix}:session-sid:{sid}` and `{prefix}:session-sub:{sub}`.
/// The keys are the digests grantkit-axum passes, never cookie values. One Redis (or one
/// primary): the scripts touch keys they are not given, which Redis Cluster refuses.
#[derive(Clone)]
pub struct RedisSessionStore {
    conn: ConnectionManager,
    prefix: String,
}

impl fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn backend(operation: &str, e: impl fmt::Display) -> SessionError {
    SessionError::Backend(format!("Redis session store: {operation}: {e}"))
}

impl RedisSessionStore {
    /// Sessions on `conn`, under the prefix `grantkit`.
    pub fn new(conn: ConnectionManager) -> Self {
        Self {
            conn,
            prefix: "grantkit".to_owned(),
        }
    }

    /// Connects to `url` (`redis://host:port/db`).
    pub async fn connect(url: &str) -> Result<Self, SessionError> {
        let client = redis::Client::open(url).map_err(|e| backend("parse the URL", e))?;
        let conn = ConnectionManager::new(client)
            .await
            .map_err(|e| backend("connect", e))?;
        Ok(Self::new(conn))
    }

    /// The key prefix (default `grantkit`), to keep apps sharing a Redis apart.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn session_key(&self, key: &str) -> String {
        format!("{}:session:{key}", self.prefix)
    }

    fn index_key(&self, index: &SessionIndex) -> String {
        match index {
            SessionIndex::Sid(sid) => format!("{}:session-sid:{sid}", self.prefix),
            SessionIndex::Subject(sub) => format!("{}:session-sub:{sub}", self.prefix),
        }
    }

    async fn save_record(
        &self,
        key: &str,
        session: &Session,
        expires: SystemTime,
    ) -> Result<(), SessionError> {
        let index: Vec<String> = SessionIndex::of(session)
            .iter()
            .map(|i| self.index_key(i))
            .collect();
        let record = Record {
            session: session.clone(),
            index,
        };
        let json = serde_json::to_string(&record).map_err(|e| backend("encode", e))?;
        let at = expires
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
            .max(1);
        let mut conn = self.conn.clone();
        Script::new(SAVE)
            .key(self.session_key(key))
            .arg(json)
            .arg(at.to_string())
            .arg(key)
            .arg(&record.index)
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(|e| backend("save", e))?;
        Ok(())
    }

    async fn load_record(&self, key: &str) -> Result<Option<Session>, SessionError> {
        let mut conn = self.conn.clone();
        let text: Option<String> = conn
            .get(self.session_key(key))
            .await
            .map_err(|e| backend("load", e))?;
        text.map(|t| serde_json::from_str::<Record>(&t).map(|r| r.session))
            .transpose()
            .map_err(|e| SessionError::Corrupt(e.to_string()))
    }

    async fn find_live(&self, index: &SessionIndex) -> Result<Vec<String>, SessionError> {
        let mut conn = self.conn.clone();
        let set = self.index_key(index);
        let members: Vec<String> = conn.smembers(&set).await.map_err(|e| backend("find", e))?;
        let mut live = Vec::with_capacity(members.len());
        for member in members {
            let exists: bool = conn
                .exists(self.session_key(&member))
                .await
                .map_err(|e| backend("find", e))?;
            if exists {
                live.push(member);
            } else {
                // Expired sessions leave their index entries behind.
                let _: () = conn
                    .srem(&set, &member)
                    .await
                    .map_err(|e| backend("find", e))?;
            }
        }
        Ok(live)
    }
}

impl SessionStore for RedisSessionStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Session>, SessionError>> {
        Box::pin(self.load_record(key))
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        session: &'a Session,
        expires: SystemTime,
    ) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(self.save_record(key, session, expires))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            Script::new(DELETE)
                .key(self.session_key(key))
                .arg(key)
                .invoke_async::<i64>(&mut conn)
                .await
                .map_err(|e| backend("delete", e))?;
            Ok(())
        })
    }

    fn find<'a>(
        &'a self,
        index: &'a SessionIndex,
    ) -> BoxFuture<'a, Result<Vec<String>, SessionError>> {
        Box::pin(self.find_live(index))
    }
}
