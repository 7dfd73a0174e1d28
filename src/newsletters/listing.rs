//! The newsletters the public signup form offers, kept in memory: the form
//! is the path visitors use, and reading every newsletter from the
//! database on each post cost PostgreSQL half the API's rate. The list is
//! read again at most every [`REFRESH`] (so a change made on another
//! instance shows within it) and at once on the instance that made the
//! change ([`NewsletterListing::changed`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::{Store, StoreError};

use super::Newsletter;

/// How old a list may be before it is read again.
pub const REFRESH: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct NewsletterListing {
    store: Store,
    inner: Arc<Inner>,
}

struct Inner {
    cached: Mutex<Cached>,
    /// One read of the database at a time; the others wait and take it.
    reading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cached {
    list: Option<(Instant, Arc<Vec<Newsletter>>)>,
    /// Bumped by each change, so a read that began before a change is not
    /// kept as fresh after it.
    generation: u64,
}

impl NewsletterListing {
    pub fn new(store: Store) -> NewsletterListing {
        NewsletterListing {
            store,
            inner: Arc::new(Inner {
                cached: Mutex::new(Cached::default()),
                reading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Every newsletter, as the form lists them.
    pub async fn all(&self) -> Result<Arc<Vec<Newsletter>>, StoreError> {
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let _turn = self.inner.reading.lock().await;
        if let Some(fresh) = self.fresh() {
            return Ok(fresh);
        }
        let generation = self.cached().generation;
        let list = Arc::new(self.store.newsletters().all().await?);
        let mut cached = self.cached();
        if cached.generation == generation {
            cached.list = Some((Instant::now(), list.clone()));
        }
        Ok(list)
    }

    /// A newsletter was created, changed or removed on this instance.
    pub fn changed(&self) {
        let mut cached = self.cached();
        cached.list = None;
        cached.generation += 1;
    }

    fn fresh(&self) -> Option<Arc<Vec<Newsletter>>> {
        match &self.cached().list {
            Some((at, list)) if at.elapsed() < REFRESH => Some(list.clone()),
            _ => None,
        }
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, Cached> {
        // A panic while holding this lock leaves plain data behind.
        self.inner
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
