//! `UserId` and `SessionId`: UUIDs kept in their canonical text form (the
//! `TEXT` id columns), one type each from the database to the extractors, so
//! a user id can never be passed where a session id is meant.
//!
//! Every way in checks the form: [`UserId::new`] makes a fresh one, `From<Uuid>`
//! takes a parsed one, and `FromStr` / `Deserialize` (paths, JSON, JWT claims)
//! accept any UUID spelling and keep the lower-case hyphenated one. Rows read
//! from the database are trusted to hold what was written.

use std::fmt;
use std::str::FromStr;

use diesel_derive_newtype::DieselNewType;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, DieselNewType, Serialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self::from(Uuid::new_v4())
            }

            /// The canonical text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// An id as the database returned it: stored canonical, so not
            /// parsed again (what Diesel's own mapping does too).
            pub(crate) fn from_stored(text: String) -> Self {
                Self(text)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id.hyphenated().to_string())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text).map(Self::from)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A user's id: the `sub` of access tokens.
    UserId
);
id_type!(
    /// A session's id: the `sid` of access tokens.
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_uuid_spelling_becomes_the_canonical_one() {
        let id: UserId = "67E55044-10B1-426F-9247-BB680E5FE0C8".parse().unwrap();
        assert_eq!(id.as_str(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
        let json: SessionId = serde_json::from_str("\"67e5504410b1426f9247bb680e5fe0c8\"").unwrap();
        assert_eq!(json.as_str(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
        assert!("not-a-uuid".parse::<UserId>().is_err());
        assert!(serde_json::from_str::<UserId>("\"x\"").is_err());
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
    }
}
