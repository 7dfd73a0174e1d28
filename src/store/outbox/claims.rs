//! Claiming due rows under a lease, and giving back the ones not sent.
//! A row is due when it is `pending` and its `next_attempt_at` has come,
//! or `sending` with an expired lease (its sender died). One-off mail
//! (confirmations above all) is claimed before digest rows, so a signup
//! does not wait behind a 100,000-row issue. How a claim is exclusive is
//! each backend's: PostgreSQL locks the chosen rows with `FOR UPDATE SKIP
//! LOCKED` ([`crate::store::postgres::claims`]), SQLite has one writer at
//! a time ([`crate::store::sqlite::claims`]).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Deliveries;
use crate::store::{Backend, StoreError};

/// A row this instance holds a lease on.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub kind: String,
    pub issue_id: Option<i64>,
    pub subscriber_id: Option<i64>,
    pub recipient: String,
    pub subject: Option<String>,
    pub html_body: Option<String>,
    pub text_body: Option<String>,
    /// What the sender renders the message from, when it was not stored
    /// rendered (confirmations).
    pub template_data: Option<String>,
    /// Attempts before this one.
    pub attempts: i64,
    /// For digest rows: the subscriber's name and whether they still want
    /// this newsletter (read with the claim).
    pub subscriber_name: Option<String>,
    pub still_subscribed: bool,
}

impl ClaimedDelivery {
    pub(crate) fn from_row(row: &AnyRow) -> Result<ClaimedDelivery, sqlx::Error> {
        Ok(ClaimedDelivery {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            issue_id: row.try_get("issue_id")?,
            subscriber_id: row.try_get("subscriber_id")?,
            recipient: row.try_get("recipient")?,
            subject: row.try_get("subject")?,
            html_body: row.try_get("html_body")?,
            text_body: row.try_get("text_body")?,
            template_data: row.try_get("template_data")?,
            attempts: row.try_get("attempts")?,
            subscriber_name: None,
            still_subscribed: true,
        })
    }

    /// [`ClaimedDelivery::from_row`] for a row read by rusqlite.
    pub(crate) fn from_direct_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ClaimedDelivery> {
        Ok(ClaimedDelivery {
            id: row.get("id")?,
            kind: row.get("kind")?,
            issue_id: row.get("issue_id")?,
            subscriber_id: row.get("subscriber_id")?,
            recipient: row.get("recipient")?,
            subject: row.get("subject")?,
            html_body: row.get("html_body")?,
            text_body: row.get("text_body")?,
            template_data: row.get("template_data")?,
            attempts: row.get("attempts")?,
            subscriber_name: None,
            still_subscribed: true,
        })
    }

    pub fn is_digest(&self) -> bool {
        self.kind == "digest"
    }
}
/// The columns a claim returns, as [`ClaimedDelivery::from_row`] reads them.
pub(crate) const CLAIMED_COLUMNS: &str = "id, kind, issue_id, subscriber_id, recipient, subject, html_body, \
     text_body, template_data, attempts";

/// The claim of up to `$4` due rows of one kind (digest or one-off mail)
/// for instance `$2` until `$1`, `$3` being now; `hint` and `lock` are the
/// backend's words after `FROM deliveries` and at the end of the choice.
/// `status IN (…) AND kind …` matches the partial indexes of migration
/// 0002, so the scan walks only unfinished rows, in id order, and stops at
/// the limit.
pub(crate) fn claim_sql(digest: bool, hint: &str, lock: &str) -> String {
    let kind = if digest {
        "kind = 'digest'"
    } else {
        "kind <> 'digest'"
    };
    format!(
        "UPDATE deliveries SET status = 'sending', lease_until = $1, leased_by = $2 \
         WHERE id IN (SELECT id FROM deliveries {hint} \
           WHERE status IN ('pending', 'sending') AND {kind} \
             AND ((status = 'pending' AND next_attempt_at <= $3) \
               OR (status = 'sending' AND lease_until < $3)) \
           ORDER BY id LIMIT $4 {lock}) \
         RETURNING {CLAIMED_COLUMNS}"
    )
}

/// Whether a digest row's subscriber still wants its newsletter, over
/// [`RECIPIENT_JOINS`].
pub(crate) const WANTED: &str = "CASE WHEN s.status = 'active' AND s.paused = 0 \
     AND x.status = 'active' THEN 1 ELSE 0 END";
pub(crate) const RECIPIENT_JOINS: &str = "LEFT JOIN subscribers s ON s.id = d.subscriber_id \
     LEFT JOIN issues i ON i.id = d.issue_id \
     LEFT JOIN subscriptions x ON x.subscriber_id = s.id AND x.newsletter_id = i.newsletter_id";

impl Deliveries<'_> {
    /// Claims up to `limit` rows due at `now` for `instance` until
    /// `lease_until`, one-off mail first, oldest first.
    pub async fn claim_due(
        &self,
        instance: &str,
        limit: usize,
        lease_until: i64,
        now: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let mut claimed = self
            .claim_kind(false, instance, limit, lease_until, now)
            .await?;
        if claimed.len() < limit {
            let digests = self
                .claim_kind(true, instance, limit - claimed.len(), lease_until, now)
                .await?;
            claimed.extend(digests);
        }
        Ok(claimed)
    }

    async fn claim_kind(
        &self,
        digest: bool,
        instance: &str,
        limit: usize,
        lease_until: i64,
        now: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let due = Due {
            digest,
            instance,
            limit: limit as i64,
            lease_until,
            now,
        };
        let mut claimed = match self.store.backend() {
            Backend::Sqlite => crate::store::sqlite::claims::claim(self.store, &due).await?,
            Backend::Postgres => crate::store::postgres::claims::claim(self.store, &due).await?,
        };
        // RETURNING gives no order guarantee; send oldest first.
        claimed.sort_by_key(|row| row.id);
        Ok(claimed)
    }

    /// Gives back the rows `instance` claimed but did not send (graceful
    /// shutdown), so another instance or the next start sends them at once.
    pub async fn release(&self, instance: &str) -> Result<u64, StoreError> {
        let released = sqlx::query(
            "UPDATE deliveries SET status = 'pending', lease_until = NULL, leased_by = NULL \
             WHERE status = 'sending' AND leased_by = $1",
        )
        .bind(instance)
        .execute(self.store.pool())
        .await?
        .rows_affected();
        Ok(released)
    }
}

/// What one claim asks for.
pub(crate) struct Due<'a> {
    pub digest: bool,
    pub instance: &'a str,
    pub limit: i64,
    pub lease_until: i64,
    pub now: i64,
}
