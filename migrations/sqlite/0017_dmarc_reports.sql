-- DMARC aggregate reports (RFC 7489 section 7.2), mailed by the receivers
-- (Google, Microsoft, Yahoo...) to the rua address the DMARC record names,
-- which Settings suggests be mail.bounce.complaints_address. One row a
-- report: its totals, and the sending sources it lists as JSON (read only
-- to be shown). A reporter's report id is unique to it, so a report read
-- twice is stored once. Pruned with the bounce events (keep_days).
CREATE TABLE dmarc_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_name TEXT NOT NULL,
    report_id TEXT NOT NULL,
    domain TEXT NOT NULL,
    policy TEXT NOT NULL DEFAULT '',
    date_begin BIGINT NOT NULL,
    date_end BIGINT NOT NULL,
    messages BIGINT NOT NULL,
    dkim_pass BIGINT NOT NULL,
    spf_pass BIGINT NOT NULL,
    dmarc_pass BIGINT NOT NULL,
    sources TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (org_name, report_id)
);
CREATE INDEX dmarc_reports_received ON dmarc_reports (received_at);
