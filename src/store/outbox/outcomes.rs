//! What became of claimed rows, written in batches.

use super::{Deliveries, placeholders};
use crate::store::StoreError;

/// What happened to a claimed row.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent {
        id: i64,
    },
    /// Back to `pending` until `next_attempt_at`.
    Retry {
        id: i64,
        next_attempt_at: i64,
        error: String,
    },
    /// Given up: too many attempts, or a message that cannot be built.
    Failed {
        id: i64,
        error: String,
    },
    /// A 5xx reply: failed, and a hard bounce for the subscriber.
    Bounced {
        id: i64,
        subscriber_id: Option<i64>,
        error: String,
    },
    /// Not sent: the subscriber left or bounced before their turn.
    Cancelled {
        id: i64,
        reason: String,
    },
}

impl Deliveries<'_> {
    /// Writes a batch of outcomes in one transaction: sent and cancelled
    /// rows in one statement each, the rarer failures one by one.
    pub async fn record(
        &self,
        outcomes: &[Outcome],
        bounce_threshold: u32,
        now: i64,
    ) -> Result<(), StoreError> {
        let store = self.store;
        let sent: Vec<i64> = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Sent { id } => Some(*id),
                _ => None,
            })
            .collect();
        if sent.len() == outcomes.len() && sent.len() <= SENT_PER_STATEMENT {
            // The common batch, all sent: one statement in autocommit, one
            // round trip instead of three (on SQLite, fewer turns of the
            // writer taken from signups).
            match store.direct() {
                Some(direct) => {
                    crate::store::sqlite::outcomes::mark_sent(direct, sent, now).await?
                }
                None => mark_sent(&mut *store.write_alone().await?, &sent, now).await?,
            }
            return Ok(());
        }
        let mut tx = store.begin_write().await?;
        for chunk in sent.chunks(SENT_PER_STATEMENT) {
            mark_sent(&mut *tx, chunk, now).await?;
        }
        for outcome in outcomes {
            match outcome {
                Outcome::Sent { .. } => {}
                Outcome::Retry {
                    id,
                    next_attempt_at,
                    error,
                } => {
                    sqlx::query(
                        "UPDATE deliveries SET status = 'pending', attempts = attempts + 1, \
                         next_attempt_at = $1, last_error = $2, lease_until = NULL, \
                         leased_by = NULL WHERE id = $3 AND status = 'sending'",
                    )
                    .bind(*next_attempt_at)
                    .bind(error.as_str())
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
                }
                Outcome::Failed { id, error } => {
                    fail(&mut tx, *id, error).await?;
                }
                Outcome::Bounced {
                    id,
                    subscriber_id,
                    error,
                } => {
                    fail(&mut tx, *id, error).await?;
                    tx.mail_events().record_refusal(*id, error, now).await?;
                    if let Some(subscriber_id) = subscriber_id {
                        tx.subscribers()
                            .count_hard_bounce(*subscriber_id, bounce_threshold, now)
                            .await?;
                    }
                }
                Outcome::Cancelled { id, reason } => {
                    sqlx::query(
                        "UPDATE deliveries SET status = 'cancelled', last_error = $1, \
                         lease_until = NULL WHERE id = $2 AND status = 'sending'",
                    )
                    .bind(reason.as_str())
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Rows per `UPDATE … WHERE id IN (…)`: well under every driver's limit
/// of bound parameters.
const SENT_PER_STATEMENT: usize = 500;

/// Marks `count` rows sent: `$1` is the time, the ids follow.
pub(crate) fn mark_sent_sql(count: usize) -> String {
    // the bodies and data of one-off mail hold tokens (confirmation
    // links): they must not outlive the send
    format!(
        "UPDATE deliveries SET status = 'sent', sent_at = $1, attempts = attempts + 1, \
         lease_until = NULL, html_body = NULL, text_body = NULL, template_data = NULL, \
         last_error = NULL \
         WHERE id IN ({})",
        placeholders(2, count)
    )
}

async fn mark_sent<'c, E>(executor: E, ids: &[i64], now: i64) -> Result<(), StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let mut query = sqlx::query(sqlx::AssertSqlSafe(mark_sent_sql(ids.len()))).bind(now);
    for id in ids {
        query = query.bind(*id);
    }
    query.execute(executor).await?;
    Ok(())
}

async fn fail(conn: &mut sqlx::AnyConnection, id: i64, error: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_error = $1, \
         lease_until = NULL, html_body = NULL, text_body = NULL, template_data = NULL \
         WHERE id = $2 AND status = 'sending'",
    )
    .bind(error)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}
