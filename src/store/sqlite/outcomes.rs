//! The commonest outcome, a batch all sent, on the direct writer: one
//! statement in one call, so the delivery workers take fewer turns of the
//! writer from the signups.

use super::direct::{DirectError, DirectWriter};
use crate::store::outbox::outcomes::mark_sent_sql;

pub(crate) async fn mark_sent(
    direct: &DirectWriter,
    sent: Vec<i64>,
    now: i64,
) -> Result<(), DirectError> {
    direct
        .write(move |tx| {
            let mut statement = tx.prepare_cached(&mark_sent_sql(sent.len()))?;
            statement.execute(rusqlite::params_from_iter(std::iter::once(now).chain(sent)))?;
            Ok(())
        })
        .await
}
