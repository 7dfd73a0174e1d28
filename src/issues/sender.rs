//! Whom an issue is from. Bulk mail needs a real sender address and the
//! sender's postal address (CAN-SPAM and its like ask for one in every
//! commercial message), and Gazette ships neither, so that no digest goes
//! out with an example's. With the file transport nothing reaches a reader
//! and everything works, under a banner; over SMTP an issue is not sent
//! until both are set. Confirmations and test copies go either way.

use crate::config::{MailTransportKind, Settings};

/// A setting bulk mail still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    SenderAddress,
    PostalAddress,
}

impl Missing {
    /// The configuration key to set.
    pub fn key(self) -> &'static str {
        match self {
            Missing::SenderAddress => "mail.from.address",
            Missing::PostalAddress => "site.postal_address",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Missing::SenderAddress => "the sender address",
            Missing::PostalAddress => "the postal address",
        }
    }
}

/// An issue cannot go out over SMTP yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("issues are not sent over SMTP until {} set (in config/$GAZETTE_ENV.toml or as GAZETTE__ variables)", keys(.0))]
pub struct SenderNotSet(pub Vec<Missing>);

fn keys(missing: &[Missing]) -> String {
    let keys: Vec<&str> = missing.iter().map(|m| m.key()).collect();
    match keys.as_slice() {
        [one] => format!("{one} is"),
        _ => format!("{} are", keys.join(" and ")),
    }
}

/// What the settings say of the sender, read once per use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderSetup {
    missing: Vec<Missing>,
    over_smtp: bool,
}

impl SenderSetup {
    pub fn of(settings: &Settings) -> SenderSetup {
        let mut missing = Vec::new();
        if !settings.mail.from.is_set() {
            missing.push(Missing::SenderAddress);
        }
        if !settings.site.has_postal_address() {
            missing.push(Missing::PostalAddress);
        }
        SenderSetup {
            missing,
            over_smtp: settings.mail.transport == MailTransportKind::Smtp,
        }
    }

    pub fn missing(&self) -> &[Missing] {
        &self.missing
    }

    /// Whether mail reaches readers (SMTP) rather than a folder.
    pub fn over_smtp(&self) -> bool {
        self.over_smtp
    }

    /// Ok when an issue may be sent: with the file transport always, over
    /// SMTP once the sender and the postal address are set.
    pub fn allow_issue(&self) -> Result<(), SenderNotSet> {
        if self.over_smtp && !self.missing.is_empty() {
            return Err(SenderNotSet(self.missing.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings(transport: &str, from: &str, postal: &str) -> Settings {
        Settings::load_with(
            std::path::Path::new("/nonexistent"),
            None,
            vec![
                ("GAZETTE__MAIL__TRANSPORT".into(), transport.into()),
                ("GAZETTE__MAIL__FROM__ADDRESS".into(), from.into()),
                ("GAZETTE__SITE__POSTAL_ADDRESS".into(), postal.into()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn the_shipped_settings_name_no_sender() {
        let setup = SenderSetup::of(&settings("file", "", ""));
        assert_eq!(
            setup.missing(),
            [Missing::SenderAddress, Missing::PostalAddress]
        );
        assert_eq!(setup.allow_issue(), Ok(()), "files reach nobody");
    }

    #[test]
    fn smtp_needs_both() {
        let error = SenderSetup::of(&settings("smtp", "", "1 Road"))
            .allow_issue()
            .unwrap_err();
        assert_eq!(error.0, [Missing::SenderAddress]);
        assert!(error.to_string().contains("mail.from.address is set"));
        let error = SenderSetup::of(&settings("smtp", " ", " "))
            .allow_issue()
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("mail.from.address and site.postal_address are set")
        );
        let ready = SenderSetup::of(&settings("smtp", "news@example.net", "1 Road"));
        assert_eq!(ready.allow_issue(), Ok(()));
    }
}
