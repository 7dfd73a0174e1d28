//! What to publish, filled from the configuration.

use crate::config::{MailTransportKind, Settings};
use crate::delivery::dkim::DkimSigner;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Dkim,
    Spf,
    Dmarc,
    Mx,
}

impl RecordKind {
    pub fn label(self) -> &'static str {
        match self {
            RecordKind::Dkim => "DKIM",
            RecordKind::Spf => "SPF",
            RecordKind::Dmarc => "DMARC",
            RecordKind::Mx => "MX (bounces)",
        }
    }
}

/// A record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub kind: RecordKind,
    /// The owner name, without the final dot.
    pub name: String,
    /// `TXT` or `MX`.
    pub record_type: &'static str,
    pub value: String,
    /// Why, and what to change later.
    pub note: String,
}

/// The records for this configuration; `dkim` is the loaded signer, when
/// a key is configured and readable.
pub fn expected(settings: &Settings, dkim: Option<&DkimSigner>) -> Vec<Expected> {
    let mail = &settings.mail;
    let from_domain = domain_of(mail.from.address_or_placeholder());
    let bounce_domain = mail.bounce.verp_domain();
    let site_host = url::Url::parse(&settings.server.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    let mut records = Vec::new();
    if let Some(signer) = dkim {
        records.push(Expected {
            kind: RecordKind::Dkim,
            name: signer.dns_name(),
            record_type: "TXT",
            value: signer.dns_txt_record(),
            note: "Lets receivers check that mail signed by Gazette was not changed on the way."
                .into(),
        });
    }
    let envelope_domain = bounce_domain.clone().unwrap_or_else(|| from_domain.clone());
    let (sender, spf) = match mail.transport {
        MailTransportKind::Smtp => (
            "your relay",
            format!("v=spf1 a:{} ~all", mail.smtp.host.to_ascii_lowercase()),
        ),
        MailTransportKind::File => ("this host", format!("v=spf1 a:{site_host} ~all")),
    };
    records.push(Expected {
        kind: RecordKind::Spf,
        name: envelope_domain.clone(),
        record_type: "TXT",
        value: spf,
        note: format!(
            "SPF is checked on the envelope sender's domain ({envelope_domain}); this allows {sender}. \
             A provider (SES, Mailgun, SendGrid, Postmark) gives its own include: to use instead. \
             Publish one SPF record per name; move ~all to -all once everything passes."
        ),
    });
    let rua = mail
        .bounce
        .complaints_address()
        .map(|address| format!("; rua=mailto:{address}"))
        .unwrap_or_default();
    records.push(Expected {
        kind: RecordKind::Dmarc,
        name: format!("_dmarc.{from_domain}"),
        record_type: "TXT",
        value: format!("v=DMARC1; p=none{rua}"),
        note: "Start with p=none and read the aggregate reports receivers send to the rua address \
               (Gazette reads them: Bounces, DMARC reports); once all your mail passes SPF or DKIM \
               aligned with the From domain, move to p=quarantine, then p=reject. Gmail and Yahoo \
               require a DMARC record of bulk senders. An rua address under another organization's \
               domain must be allowed there by a TXT record v=DMARC1 at \
               <your domain>._report._dmarc.<its domain>."
            .into(),
    });
    if let Some(bounce_domain) = bounce_domain {
        records.push(Expected {
            kind: RecordKind::Mx,
            name: bounce_domain,
            record_type: "MX",
            value: format!("10 {site_host}."),
            note: "Bounces and complaints for the VERP addresses come to this host's listener \
                   (mail.bounce.listen, port 25)."
                .into(),
        });
    }
    records
}

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim().trim_end_matches('>').to_ascii_lowercase())
        .unwrap_or_default()
}
