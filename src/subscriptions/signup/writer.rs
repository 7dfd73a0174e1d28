//! Writes a group of signups in one transaction and says what each did.
//!
//! The newsletters are read first, in the transaction; everything else
//! that needs no database (choosing the newsletters, the token and its
//! hash) is then done before the first write: microseconds a signup,
//! though SQLite's write lock is already held. The confirmation email is
//! not rendered here: its outbox row keeps what the sender renders it from.
//! Then: the new addresses together ([`crate::store::signups`]), then
//! each known address by the full rules ([`super::known`]), then the
//! commit. When anything fails, the group is written again one signup at a
//! time, so a signup that cannot be written fails alone and the others are
//! kept.

use std::collections::HashSet;

use email_templates::Locale;

use super::mails::{CONFIRMATION, ConfirmationData};
use super::{SignupError, SignupOutcome, SignupRequest, choose_newsletters, known};
use crate::newsletters::Newsletter;
use crate::store::signups::{NewIds, NewSignup, NewSignups};
use crate::store::{Store, now_ms};
use crate::subscriptions::domain::SubscriberName;
use crate::subscriptions::token::{CONFIRMATION_TOKEN_LIFETIME_HOURS, ConfirmationToken};

/// One signup ready to be written.
pub(super) struct Prepared<'r> {
    pub request: &'r SignupRequest,
    pub email_key: String,
    /// The newsletters asked for; never empty.
    pub newsletters: Vec<Newsletter>,
    /// Their slugs, comma-separated, for the consent record.
    pub requested_slugs: String,
    /// Their names, sorted: what the email tells about.
    pub requested_names: Vec<String>,
    /// Their ids, comma-separated: what the email's token confirms.
    pub newsletter_ids: String,
    /// The first newsletter's locale: the subscriber's, and the email's
    /// language.
    pub subscriber_locale: String,
    pub token: ConfirmationToken,
    pub token_hash: String,
}

impl Prepared<'_> {
    pub fn name(&self) -> Option<&str> {
        self.request.name.as_ref().map(SubscriberName::as_str)
    }

    /// The confirmation email telling about `newsletters`, greeting `name`.
    pub fn confirmation(&self, newsletters: &[String], name: Option<&str>) -> ConfirmationData {
        let locale = self.subscriber_locale.parse().unwrap_or(Locale::En);
        ConfirmationData::new(&self.token, locale, newsletters, name)
    }
}

/// The writer behind a [`super::SignupQueue`]; public so tests can write a
/// group of their choosing.
#[derive(Clone)]
pub struct SignupWriter {
    store: Store,
}

impl SignupWriter {
    pub fn new(store: Store) -> Self {
        SignupWriter { store }
    }

    /// Writes `requests` and returns what each did, in the same order.
    /// Every signup that returns `Ok` is committed.
    ///
    /// The new addresses go first, in one call
    /// ([`Store::write_new_signups`]). The known ones, rarer, then run the
    /// full rules in a transaction of their own (it sees the first, so a
    /// second signup of a new address in the same group is a known one).
    pub async fn write(
        &mut self,
        requests: &[SignupRequest],
    ) -> Vec<Result<SignupOutcome, SignupError>> {
        let owned = requests.to_vec();
        let first_pass = self
            .store
            .write_new_signups(move |all| {
                let (results, prepared) = prepare_all(all, &owned);
                ((results, keys_of(&prepared)), new_signups(&prepared))
            })
            .await;
        match first_pass {
            Ok(((mut results, keys), new_ids)) => {
                let known = not_new(&keys, new_ids);
                if !known.is_empty() {
                    let again: Vec<SignupRequest> =
                        known.iter().map(|&index| requests[index].clone()).collect();
                    let written = self.write_in_transaction(&again).await;
                    for (index, result) in known.into_iter().zip(written) {
                        results[index] = result;
                    }
                }
                results
            }
            // nothing of it was written: the usual path tries again, one
            // signup at a time if need be
            Err(error) => {
                tracing::warn!(
                    %error,
                    signups = requests.len(),
                    "the one-call write of a group of signups failed; writing it in a transaction"
                );
                self.write_in_transaction(requests).await
            }
        }
    }

    /// [`SignupWriter::write`] in a write transaction: the whole group in
    /// one transaction, or one by one when that failed.
    async fn write_in_transaction(
        &mut self,
        requests: &[SignupRequest],
    ) -> Vec<Result<SignupOutcome, SignupError>> {
        let error = match self.write_together(requests).await {
            Ok(results) => return results,
            Err(error) => error,
        };
        if requests.len() == 1 {
            return vec![Err(error)];
        }
        tracing::warn!(
            %error,
            signups = requests.len(),
            "a group of signups failed; writing them one by one"
        );
        let mut results = Vec::with_capacity(requests.len());
        for request in requests {
            let result = match self.write_together(std::slice::from_ref(request)).await {
                // one request gives one result; an empty answer cannot happen
                Ok(mut one) => one.pop().unwrap_or(Err(SignupError::Stopped)),
                Err(error) => Err(error),
            };
            results.push(result);
        }
        results
    }

    /// One transaction for all of `requests`; `Err` when it failed (then
    /// nothing of it was written).
    async fn write_together(
        &mut self,
        requests: &[SignupRequest],
    ) -> Result<Vec<Result<SignupOutcome, SignupError>>, SignupError> {
        // In the transaction, on its connection: on SQLite that is the
        // writer's, whose cache is warm. Read on a pooled connection while
        // the transaction begins, it would cost that connection's cold
        // cache and a second thread, and the group would wait for the
        // slower of the two.
        let mut tx = self.store.begin_write().await?;
        let all = tx.newsletters().all().await?;
        let (mut results, prepared) = prepare_all(&all, requests);
        if prepared.is_empty() {
            tx.rollback().await?;
            return Ok(results);
        }
        let new_ids = tx.signups().write_new(new_signups(&prepared)).await?;
        let known = not_new(&keys_of(&prepared), new_ids);
        for (index, signup) in prepared.iter().filter(|(i, _)| known.contains(i)) {
            results[*index] = Ok(known::sign_up(&mut tx, signup).await?);
        }
        tx.commit().await?;
        Ok(results)
    }
}

type Indexed<'r> = (usize, Prepared<'r>);

/// Chooses each signup's newsletters among `all` and prepares it. The
/// results say `ConfirmationQueued` (a known address's is overwritten
/// later) or why the signup cannot be; the prepared signups carry their
/// index in `requests`.
fn prepare_all<'r>(
    all: &[Newsletter],
    requests: &'r [SignupRequest],
) -> (Vec<Result<SignupOutcome, SignupError>>, Vec<Indexed<'r>>) {
    let mut results = Vec::with_capacity(requests.len());
    let mut prepared = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        match choose_newsletters(all, &request.newsletters) {
            Ok(newsletters) => {
                results.push(Ok(SignupOutcome::ConfirmationQueued));
                prepared.push((index, prepare(request, newsletters)));
            }
            Err(invalid) => results.push(Err(invalid.into())),
        }
    }
    (results, prepared)
}

/// The first signup of each address, as the store writes a new one: only
/// it may be new (a second one in the same group is known by then).
fn new_signups(prepared: &[Indexed<'_>]) -> NewSignups {
    let now = now_ms();
    let mut seen = HashSet::with_capacity(prepared.len());
    let signups = prepared
        .iter()
        .map(|(_, p)| p)
        .filter(|p| seen.insert(p.email_key.as_str()))
        .map(|p| NewSignup {
            email: p.request.email.as_str().to_string(),
            email_key: p.email_key.clone(),
            name: p.name().map(str::to_string),
            locale: p.subscriber_locale.clone(),
            newsletters: p.newsletters.iter().map(|n| n.id).collect(),
            source: p.request.source,
            client: p.request.client.clone(),
            detail: p.requested_slugs.clone(),
            token_hash: p.token_hash.clone(),
            token_newsletters: p.newsletter_ids.clone(),
            mail_data: p.confirmation(&p.requested_names, p.name()).to_json(),
        })
        .collect();
    NewSignups {
        signups,
        now,
        tokens_expire_at: now + i64::from(CONFIRMATION_TOKEN_LIFETIME_HOURS) * 3_600_000,
        mail_kind: CONFIRMATION,
    }
}

/// The indexes of the signups (index, address key) whose address got no
/// new subscriber: they follow the full rules.
fn not_new(keys: &[(usize, String)], mut new_ids: NewIds) -> Vec<usize> {
    keys.iter()
        // `remove`: only the first signup of an address is the new one
        .filter(|(_, key)| new_ids.remove(key).is_none())
        .map(|(index, _)| *index)
        .collect()
}

/// Each prepared signup's index and address key.
fn keys_of(prepared: &[Indexed<'_>]) -> Vec<(usize, String)> {
    prepared
        .iter()
        .map(|(index, p)| (*index, p.email_key.clone()))
        .collect()
}

/// Everything a signup needs that needs no database.
fn prepare<'r>(request: &'r SignupRequest, newsletters: Vec<Newsletter>) -> Prepared<'r> {
    let subscriber_locale = newsletters
        .first()
        .map(|n| n.locale.clone())
        .unwrap_or_default();
    let mut requested_names: Vec<String> = newsletters.iter().map(|n| n.name.clone()).collect();
    requested_names.sort();
    let requested_slugs = newsletters
        .iter()
        .map(|n| n.slug.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let newsletter_ids = crate::subscriptions::token::id_list(newsletters.iter().map(|n| n.id));
    let token = ConfirmationToken::generate();
    Prepared {
        request,
        email_key: request.email.key(),
        token_hash: token.hash(),
        newsletters,
        requested_slugs,
        requested_names,
        newsletter_ids,
        subscriber_locale,
        token,
    }
}
