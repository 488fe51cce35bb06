//! The records matching reads: a person (workspace lead or CRM contact/lead) and a company
//! (workspace company or CRM account). Every field but the id may be missing.

use serde::{Deserialize, Deserializer, Serialize};

/// A person on either side. Field names are those of the NDJSON evaluation format.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PersonRecord {
    #[serde(deserialize_with = "lenient_id")]
    pub id: String,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub profile_url: Option<String>,
    /// Earlier employers, most recent first, as a profile's work history lists them. A CRM
    /// contact keeps the company it was entered with, so after a job change this is where the
    /// two sides still agree.
    #[serde(
        deserialize_with = "lenient_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub past_companies: Vec<String>,
}

/// A company on either side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompanyRecord {
    #[serde(deserialize_with = "lenient_id")]
    pub id: String,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub employees: Option<String>,
}

/// Accepts a string, a number or a boolean (exports often type ids and postal codes as
/// numbers) and treats null and blank strings as missing.
fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        U(u64),
        I(i64),
        F(f64),
        B(bool),
    }
    Ok(match Option::<Scalar>::deserialize(d)? {
        Some(Scalar::S(s)) if !s.trim().is_empty() => Some(s),
        Some(Scalar::U(n)) => Some(n.to_string()),
        Some(Scalar::I(n)) => Some(n.to_string()),
        Some(Scalar::F(n)) => Some(n.to_string()),
        Some(Scalar::B(b)) => Some(b.to_string()),
        _ => None,
    })
}

/// A list of names: an array (scalars are read as by [`lenient`], blanks and nulls dropped), a
/// single string, or null.
fn lenient_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<Item>),
        One(Item),
    }
    #[derive(Deserialize)]
    struct Item(#[serde(deserialize_with = "lenient")] Option<String>);
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        Some(OneOrMany::Many(items)) => items.into_iter().filter_map(|i| i.0).collect(),
        Some(OneOrMany::One(item)) => item.0.into_iter().collect(),
        None => Vec::new(),
    })
}

fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(lenient(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_partial_and_loosely_typed_records() {
        let p: PersonRecord =
            serde_json::from_str(r#"{"id":42,"email":"a@b.co","phone":null,"city":"  ","x":1}"#)
                .unwrap();
        assert_eq!(p.id, "42");
        assert_eq!(p.email.as_deref(), Some("a@b.co"));
        assert_eq!((p.phone, p.city), (None, None));
        assert!(p.past_companies.is_empty());
        let p: PersonRecord =
            serde_json::from_str(r#"{"id":"p","past_companies":["Acme Ltd",null," ",7]}"#).unwrap();
        assert_eq!(p.past_companies, ["Acme Ltd", "7"]);
        let p: PersonRecord =
            serde_json::from_str(r#"{"id":"p","past_companies":"Globex"}"#).unwrap();
        assert_eq!(p.past_companies, ["Globex"]);
        assert!(serde_json::from_str::<PersonRecord>(r#"{"id":"p","past_companies":{}}"#).is_err());
        let c: CompanyRecord =
            serde_json::from_str(r#"{"id":"c1","employees":250,"postal_code":20121}"#).unwrap();
        assert_eq!(
            (c.employees.as_deref(), c.postal_code.as_deref()),
            (Some("250"), Some("20121"))
        );
    }
}
