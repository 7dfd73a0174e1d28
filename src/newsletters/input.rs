//! What a client may send to create or change a newsletter, before
//! [`super::settings`] checks it.

use serde::{Deserialize, Deserializer};

/// What a client may send to create or change a newsletter. A field left
/// out keeps its value; `null` clears the optional ones. Creating needs
/// `slug` and `name`; the slug never changes afterwards.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewsletterInput {
    /// Lower-case letters, digits and dashes.
    #[schema(max_length = 64, pattern = "^[a-z0-9][a-z0-9-]*$")]
    pub slug: Option<String>,
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// `en` or `fr`.
    #[schema(pattern = "^(en|fr)$")]
    pub locale: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub sender_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Email)]
    pub reply_to: Option<Option<String>>,
    #[schema(minimum = 1, maximum = 100)]
    pub max_stories: Option<i64>,
    /// Only stories with one of these tags go in (all stories when empty).
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
    pub review_before_send: Option<bool>,
    pub skip_when_empty: Option<bool>,
    /// Five-field cron (`0 7 * * FRI`), read in `timezone`; `null` unschedules.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub schedule: Option<Option<String>>,
    /// IANA name, such as `Africa/Bamako`.
    pub timezone: Option<String>,
    pub paused: Option<bool>,
}

/// Tells "absent" (outer `None`, through `default`) from `null`
/// (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
