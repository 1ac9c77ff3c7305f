//! The registered user, as `POST /v3/users` and `GET /v3/users/{user-id}` return it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A Polar user id (`polar-user-id`, the token response's `x_user_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UserId(pub u64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for UserId {
    /// A JSON number, or a string of digits.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(UserId(n)),
            Raw::Text(s) => s
                .trim()
                .parse()
                .map(UserId)
                .map_err(|_| serde::de::Error::custom("a user id must be an integer")),
        }
    }
}

/// The user's sex as AccessLink reports it (`MALE`, `FEMALE`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
#[non_exhaustive]
pub enum Gender {
    /// `MALE`.
    Male,
    /// `FEMALE`.
    Female,
    /// Any other value, as sent.
    Other(String),
}

impl From<String> for Gender {
    fn from(value: String) -> Self {
        match value.to_ascii_uppercase().as_str() {
            "MALE" => Gender::Male,
            "FEMALE" => Gender::Female,
            _ => Gender::Other(value),
        }
    }
}

impl From<Gender> for String {
    fn from(value: Gender) -> Self {
        match value {
            Gender::Male => "MALE".into(),
            Gender::Female => "FEMALE".into(),
            Gender::Other(s) => s,
        }
    }
}

/// An answer the user gave to one of the partner's own registration questions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExtraInfo {
    /// The answer.
    #[serde(default)]
    pub value: Option<String>,
    /// The question's index.
    #[serde(default)]
    pub index: Option<i64>,
    /// The question's name.
    #[serde(default)]
    pub name: Option<String>,
}

/// A user registered to your AccessLink client.
///
/// Every field but the id may be missing; unknown fields are ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct User {
    /// `polar-user-id`.
    pub polar_user_id: UserId,
    /// `member-id`: your identifier for this user, as given at registration.
    #[serde(default)]
    pub member_id: Option<String>,
    /// `registration-date`, as sent (ISO 8601, e.g. `2011-10-14T12:50:37.000Z`).
    #[serde(default)]
    pub registration_date: Option<String>,
    /// `first-name`.
    #[serde(default)]
    pub first_name: Option<String>,
    /// `last-name`.
    #[serde(default)]
    pub last_name: Option<String>,
    /// `birthdate`, `YYYY-MM-DD`.
    #[serde(default)]
    pub birthdate: Option<String>,
    /// `gender`.
    #[serde(default)]
    pub gender: Option<Gender>,
    /// `weight` in kilograms (AccessLink recommends its physical-info resource for this).
    #[serde(default)]
    pub weight: Option<f64>,
    /// `height` in centimetres.
    #[serde(default)]
    pub height: Option<f64>,
    /// `extra-info`: answers to your own registration questions (`null` reads as empty).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub extra_info: Vec<ExtraInfo>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<ExtraInfo>, D::Error> {
    Ok(Option::<Vec<ExtraInfo>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_object_reads_accesslink_json() {
        let user: User = serde_json::from_str(
            r#"{"polar-user-id":"10579","member-id":"m-1","registration-date":"2011-10-14T12:50:37.000Z",
               "first-name":"Eka","last-name":"Toka","birthdate":"1985-09-06","gender":"FEMALE",
               "weight":66,"height":170.5,"extra-info":null,"unknown":true}"#,
        )
        .unwrap();
        assert_eq!(user.polar_user_id, UserId(10579));
        assert_eq!(user.gender, Some(Gender::Female));
        assert_eq!(user.weight, Some(66.0));
        assert!(user.extra_info.is_empty());
        let back = serde_json::to_value(&user).unwrap();
        assert_eq!(back["polar-user-id"], 10579);
        assert_eq!(back["gender"], "FEMALE");
    }

    #[test]
    fn unknown_gender_is_kept() {
        let g: Gender = serde_json::from_str(r#""X""#).unwrap();
        assert_eq!(g, Gender::Other("X".into()));
    }
}
