//! A group of new addresses' signups in one call on the direct writer
//! ([`DirectWriter`]): the same rows as [`crate::store::signups`]
//! writes through sqlx, each table in one statement.

use super::super::newsletters::all_on_direct;
use super::super::rows::{InsertRows, Value};
use super::super::signups::{
    INSERT_SUBSCRIBERS, NEW_ONLY, NewIds, NewSignups, other_rows, per_newsletter, with_ids,
};
use super::super::subscribers::{DailyCounter, count_today_by_direct};
use super::direct::{DirectError, DirectWriter};
use crate::store::newsletters::Newsletter;

pub(crate) async fn write<T, F>(
    direct: &DirectWriter,
    prepare: F,
) -> Result<(T, NewIds), DirectError>
where
    T: Send + 'static,
    F: FnOnce(&[Newsletter]) -> (T, NewSignups) + Send + 'static,
{
    direct
        .write(move |tx| {
            let all = all_on_direct(tx)?;
            let (back, mut group) = prepare(&all);
            group.sort();
            let mut subscribers =
                InsertRows::new(INSERT_SUBSCRIBERS, "(#, #, #, #, 'pending', 0, 0, #, #, #)");
            for signup in &group.signups {
                subscribers.push(&[
                    Value::Text(&signup.email),
                    Value::Text(&signup.email_key),
                    Value::MaybeText(signup.name.as_deref()),
                    Value::Text(&signup.locale),
                    Value::Int(group.now),
                    Value::Int(group.now),
                    Value::Int(group.now),
                ]);
            }
            let ids: NewIds = subscribers
                .insert_all(tx, NEW_ONLY, |row| {
                    Ok((row.get("email_key")?, row.get("id")?))
                })?
                .into_iter()
                .collect();
            let new = with_ids(&group, &ids);
            for table in other_rows(&group, &new) {
                table.insert_all(tx, "", |_| Ok(()))?;
            }
            for (newsletter_id, count) in per_newsletter(&new) {
                count_today_by_direct(tx, newsletter_id, DailyCounter::Signups, count)?;
            }
            Ok((back, ids))
        })
        .await
}
