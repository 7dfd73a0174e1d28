//! Reading a DMARC aggregate report (RFC 7489, section 7.2 and appendix
//! C): the XML a receiver mails daily to the `rua` address, attached
//! gzipped (Microsoft, Yahoo, most others), zipped (Google) or plain. The
//! format is told by the attachment's first bytes, not by its declared
//! type, which reporters fill in every way. Decompression stops at
//! [`MAX_XML_BYTES`], so a crafted archive cannot fill the memory.

use std::io::{Cursor, Read};

use mail_parser::{MessageParser, MimeHeaders, PartType};
use serde::Deserialize;

use crate::store::dmarc_reports::{DmarcReportData, DmarcSource};

/// The largest report read, once decompressed. A day of a large sender's
/// report to Google is a few hundred kilobytes.
pub const MAX_XML_BYTES: u64 = 8 * 1024 * 1024;

/// The aggregate report attached to `raw`, if it holds one.
pub fn read(raw: &[u8]) -> Option<DmarcReportData> {
    let message = MessageParser::new().parse(raw)?;
    message.parts.iter().find_map(|part| {
        if matches!(part.body, PartType::Multipart(_) | PartType::Message(_)) {
            return None;
        }
        let attached = part.attachment_name().is_some()
            || part.content_type().is_some_and(|ct| {
                !ct.ctype().eq_ignore_ascii_case("text") || ct.subtype() == Some("xml")
            });
        if !attached {
            return None;
        }
        parse_xml(&xml_of(part.contents())?)
    })
}

/// The XML in an attachment: gunzipped, unzipped (its first entry) or as
/// it is.
fn xml_of(contents: &[u8]) -> Option<String> {
    let mut xml = Vec::new();
    match contents {
        [0x1f, 0x8b, ..] => {
            flate2::read::GzDecoder::new(contents)
                .take(MAX_XML_BYTES + 1)
                .read_to_end(&mut xml)
                .ok()?;
        }
        [b'P', b'K', 3, 4, ..] => {
            let mut archive = zip::ZipArchive::new(Cursor::new(contents)).ok()?;
            let entry = archive.by_index(0).ok()?;
            entry.take(MAX_XML_BYTES + 1).read_to_end(&mut xml).ok()?;
        }
        _ => xml.extend_from_slice(contents),
    }
    if xml.len() as u64 > MAX_XML_BYTES {
        tracing::info!("a DMARC report larger than {MAX_XML_BYTES} bytes was not read");
        return None;
    }
    let xml = String::from_utf8(xml).ok()?;
    xml.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('<')
        .then_some(xml)
}

/// The report's XML, its sources most messages first.
pub fn parse_xml(xml: &str) -> Option<DmarcReportData> {
    let feedback: Feedback = quick_xml::de::from_str(xml).ok()?;
    let meta = feedback.report_metadata;
    let org_name = meta.org_name.trim();
    let report_id = meta.report_id.trim();
    let range = meta.date_range;
    if org_name.is_empty() || report_id.is_empty() || range.begin > range.end {
        return None;
    }
    let mut sources: Vec<DmarcSource> = feedback
        .record
        .into_iter()
        .filter(|r| r.row.count >= 0)
        .map(|r| DmarcSource {
            source_ip: r.row.source_ip.trim().to_owned(),
            count: r.row.count,
            disposition: r
                .row
                .policy_evaluated
                .disposition
                .trim()
                .to_ascii_lowercase(),
            dkim: r.row.policy_evaluated.dkim.trim().to_ascii_lowercase(),
            spf: r.row.policy_evaluated.spf.trim().to_ascii_lowercase(),
            header_from: r.identifiers.header_from.trim().to_ascii_lowercase(),
        })
        .collect();
    sources.sort_by_key(|s| std::cmp::Reverse(s.count));
    Some(DmarcReportData {
        org_name: org_name.chars().take(200).collect(),
        report_id: report_id.chars().take(200).collect(),
        domain: feedback.policy_published.domain.trim().to_ascii_lowercase(),
        policy: feedback.policy_published.p.trim().to_ascii_lowercase(),
        date_begin: range.begin.checked_mul(1000)?,
        date_end: range.end.checked_mul(1000)?,
        sources,
    })
}

// The parts of the XML schema the page shows; quick-xml skips the rest.

#[derive(Deserialize)]
struct Feedback {
    report_metadata: Metadata,
    policy_published: Policy,
    #[serde(default)]
    record: Vec<Record>,
}

#[derive(Deserialize)]
struct Metadata {
    org_name: String,
    report_id: String,
    date_range: DateRange,
}

#[derive(Deserialize)]
struct DateRange {
    begin: i64,
    end: i64,
}

#[derive(Deserialize)]
struct Policy {
    domain: String,
    #[serde(default)]
    p: String,
}

#[derive(Deserialize)]
struct Record {
    row: Row,
    #[serde(default)]
    identifiers: Identifiers,
}

#[derive(Deserialize)]
struct Row {
    source_ip: String,
    count: i64,
    policy_evaluated: Evaluated,
}

#[derive(Deserialize)]
struct Evaluated {
    #[serde(default)]
    disposition: String,
    #[serde(default)]
    dkim: String,
    #[serde(default)]
    spf: String,
}

#[derive(Deserialize, Default)]
struct Identifiers {
    #[serde(default)]
    header_from: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <report_id>8157309207340237364</report_id>
    <date_range><begin>1764892800</begin><end>1764979199</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>example.org</domain><adkim>r</adkim><aspf>r</aspf>
    <p>none</p><sp>none</sp><pct>100</pct>
  </policy_published>
  <record>
    <row>
      <source_ip>192.0.2.10</source_ip><count>3</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>example.org</header_from></identifiers>
    <auth_results><dkim><domain>example.org</domain><result>pass</result></dkim></auth_results>
  </record>
  <record>
    <row>
      <source_ip>203.0.113.7</source_ip><count>5</count>
      <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>example.org</header_from></identifiers>
  </record>
</feedback>"#;

    #[test]
    fn reads_totals_and_sources() {
        let report = parse_xml(XML).unwrap();
        assert_eq!(report.org_name, "google.com");
        assert_eq!(report.domain, "example.org");
        assert_eq!(report.policy, "none");
        assert_eq!(report.date_begin, 1_764_892_800_000);
        assert_eq!(report.messages(), 8);
        assert_eq!(report.dkim_pass(), 3);
        assert_eq!(report.dmarc_pass(), 3);
        assert_eq!(report.sources[0].source_ip, "203.0.113.7");
    }

    #[test]
    fn gzip_and_zip_attachments_are_opened() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(XML.as_bytes()).unwrap();
        assert_eq!(xml_of(&gz.finish().unwrap()).as_deref(), Some(XML));

        let mut zipped = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zipped
            .start_file(
                "google.com!example.org!1!2.xml",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        zipped.write_all(XML.as_bytes()).unwrap();
        let zipped = zipped.finish().unwrap().into_inner();
        assert_eq!(xml_of(&zipped).as_deref(), Some(XML));
    }

    #[test]
    fn a_bomb_is_not_inflated_past_the_limit() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1024 * 1024];
        for _ in 0..(MAX_XML_BYTES / zeros.len() as u64 + 2) {
            gz.write_all(&zeros).unwrap();
        }
        assert_eq!(xml_of(&gz.finish().unwrap()), None);
    }

    #[test]
    fn other_xml_and_broken_reports_are_not_reports() {
        assert_eq!(parse_xml("<rss><channel/></rss>"), None);
        assert_eq!(
            parse_xml(&XML.replace("<org_name>google.com</org_name>", "<org_name> </org_name>")),
            None
        );
        assert_eq!(
            parse_xml(&XML.replace("<count>3</count>", "<count>many</count>")),
            None
        );
    }
}
