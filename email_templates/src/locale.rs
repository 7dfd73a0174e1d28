//! The languages Gazette ships words for.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A language of the emails and pages. Each newsletter has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    /// English, the default.
    #[default]
    En,
    /// French.
    Fr,
}

impl Locale {
    /// Every shipped locale, in a stable order.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Fr];

    /// The code used in configuration, URLs and the `lang` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Fr => "fr",
        }
    }

    /// Whether `count` takes the singular form: English uses it for 1 only,
    /// French for 0 and 1 ("0 article").
    pub fn is_singular(self, count: usize) -> bool {
        match self {
            Locale::En => count == 1,
            Locale::Fr => count <= 1,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Locale::En => 0,
            Locale::Fr => 1,
        }
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A locale code Gazette has no words for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown locale {value:?}: expected \"en\" or \"fr\"")]
pub struct UnknownLocale {
    /// The value that was given.
    pub value: String,
}

impl FromStr for Locale {
    type Err = UnknownLocale;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Locale::ALL
            .into_iter()
            .find(|locale| locale.as_str().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| UnknownLocale {
                value: value.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_and_names_a_bad_value() {
        assert_eq!("en".parse(), Ok(Locale::En));
        assert_eq!("FR".parse(), Ok(Locale::Fr));
        let error = "de".parse::<Locale>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown locale \"de\": expected \"en\" or \"fr\""
        );
    }

    #[test]
    fn display_round_trips() {
        for locale in Locale::ALL {
            assert_eq!(locale.to_string().parse(), Ok(locale));
        }
        assert_eq!(Locale::default(), Locale::En);
    }

    #[test]
    fn french_zero_is_singular() {
        assert!(Locale::Fr.is_singular(0));
        assert!(!Locale::En.is_singular(0));
        assert!(!Locale::Fr.is_singular(2));
    }
}
