-- The delivery workers claim unfinished rows in id order, one-off mail
-- (confirmations) before digests. These partial indexes hold only unfinished
-- rows, so a claim never walks past the sent rows of a large issue.
CREATE INDEX deliveries_claim_digest ON deliveries (id)
    WHERE status IN ('pending', 'sending') AND kind = 'digest';
CREATE INDEX deliveries_claim_other ON deliveries (id)
    WHERE status IN ('pending', 'sending') AND kind <> 'digest';
-- Graceful shutdown gives back what an instance holds.
CREATE INDEX deliveries_leased_by ON deliveries (leased_by) WHERE status = 'sending';
