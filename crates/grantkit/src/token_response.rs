//! One pass over a token endpoint's JSON: the RFC 6749 §5.1 members lifted out as they are read,
//! everything else kept in a map. No intermediate `Value` tree of the whole body, no second pass
//! to remove the known members, no copy of the access token.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Members of RFC 6749 §5.1 (and OpenID Connect's `id_token`) lifted out of the raw JSON.
const KNOWN: [&str; 6] = [
    "access_token",
    "token_type",
    "expires_in",
    "refresh_token",
    "scope",
    "id_token",
];

/// A token response split into its known members (by [`KNOWN`] index) and the rest.
#[derive(Default)]
pub(crate) struct RawResponse {
    pub(crate) known: [Option<Value>; KNOWN.len()],
    pub(crate) extra: Map<String, Value>,
}

impl RawResponse {
    /// Parses `body`; the error is a short reason without any of the body's content.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(body).map_err(|e| {
            // The slow path, for errors only: say whether it is JSON at all.
            match serde_json::from_slice::<Value>(body) {
                Ok(_) => "the token response is JSON but not an object".to_owned(),
                Err(_) => format!("the token response is not JSON ({e})"),
            }
        })
    }

    /// Takes a known member out (by name, one of [`KNOWN`]).
    pub(crate) fn take(&mut self, name: &str) -> Option<Value> {
        let index = KNOWN.iter().position(|k| *k == name)?;
        self.known.get_mut(index)?.take()
    }
}

impl<'de> Deserialize<'de> for RawResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ResponseVisitor)
    }
}

struct ResponseVisitor;

impl<'de> Visitor<'de> for ResponseVisitor {
    type Value = RawResponse;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawResponse, A::Error> {
        let mut raw = RawResponse::default();
        // A repeated member keeps its last value, as a JSON map would.
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Known(index) => {
                    let value = map.next_value()?;
                    // `index` is a position in `KNOWN`, the array's own length.
                    if let Some(slot) = raw.known.get_mut(index) {
                        *slot = Some(value);
                    }
                }
                Key::Other(name) => {
                    raw.extra.insert(name, map.next_value()?);
                }
            }
        }
        Ok(raw)
    }
}

/// A member name: known ones without an allocation.
enum Key {
    Known(usize),
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
        Ok(match KNOWN.iter().position(|k| *k == name) {
            Some(index) => Key::Known(index),
            None => Key::Other(name.to_owned()),
        })
    }

    fn visit_string<E: de::Error>(self, name: String) -> Result<Key, E> {
        Ok(match KNOWN.iter().position(|k| *k == name) {
            Some(index) => Key::Known(index),
            None => Key::Other(name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_members_are_lifted_and_the_rest_kept() {
        let mut raw = RawResponse::parse(
            br#"{"access_token":"a","x_user_id":7,"scope":"s","access_token":"b","nested":{"k":[1]}}"#,
        )
        .unwrap();
        assert_eq!(
            raw.take("access_token"),
            Some(Value::from("b")),
            "last wins"
        );
        assert_eq!(raw.take("scope"), Some(Value::from("s")));
        assert_eq!(raw.take("refresh_token"), None);
        assert_eq!(raw.extra.len(), 2);
        assert_eq!(raw.extra["nested"]["k"][0], 1);
    }

    #[test]
    fn escaped_names_are_the_same_names() {
        let mut raw = RawResponse::parse(br#"{"access\u005ftoken":"a"}"#).unwrap();
        assert_eq!(raw.take("access_token"), Some(Value::from("a")));
        assert!(raw.extra.is_empty());
    }

    #[test]
    fn errors_say_what_the_body_is_without_quoting_it() {
        let not_object = RawResponse::parse(br#"["secret-value"]"#).err().unwrap();
        assert_eq!(not_object, "the token response is JSON but not an object");
        let truncated = RawResponse::parse(br#"{"access_token":"secret-val"#)
            .err()
            .unwrap();
        assert!(
            truncated.starts_with("the token response is not JSON"),
            "{truncated}"
        );
        assert!(!truncated.contains("secret"), "{truncated}");
    }
}
