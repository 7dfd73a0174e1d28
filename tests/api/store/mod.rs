//! The conformance suite of the storage layer: every method of each face
//! of `Store` (one file an aggregate), written once and run on SQLite and
//! on PostgreSQL, so the two backends behave alike wherever their SQL or
//! their tricks differ.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod address_index;
mod dmarc_reports;
mod feeds;
mod imports;
mod issues;
mod mail_events;
mod newsletters;
mod outbox;
mod signups;
mod stories;
mod subscribers;
mod users;

use gazette::config::DatabaseSettings;
use gazette::store::Store;

use crate::helpers::{Backend, TestDb};

/// A migrated store on a database of its own, kept while the `TestDb` is.
pub async fn fresh_store(backend: Backend) -> (TestDb, Store) {
    fresh_store_with(backend, 4).await
}

/// [`fresh_store`] with a pool of `max_connections`.
pub async fn fresh_store_with(backend: Backend, max_connections: u32) -> (TestDb, Store) {
    let db = TestDb::create(backend).await;
    let store = Store::connect(&DatabaseSettings {
        url: db.url.clone().into(),
        max_connections,
    })
    .await
    .expect("store connects");
    store.migrate().await.expect("migrations run");
    (db, store)
}
