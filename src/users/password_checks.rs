//! A bound on password hashing. One argon2 check takes about 19 MiB and
//! tens of milliseconds of a core; without a bound, a few hundred logins
//! posted at once hash in parallel and take all memory and CPU. Checks run
//! on a few threads of their own (one per core), a short queue waits for
//! them, and a check that finds the queue full is refused at once
//! ([`Busy`]), so a flood costs the server a fixed amount of memory
//! whatever its size.
//!
//! Own threads rather than tokio's blocking pool: the allocator keeps a
//! freed 19 MiB block in the arena of the thread that used it, so hashes
//! spread over the blocking pool's many threads kept hundreds of megabytes
//! resident after a flood; two threads keep two blocks.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

/// The queue was full: the caller should answer "try again shortly".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks are waiting")]
pub struct Busy;

type Check = Box<dyn FnOnce() + Send>;

#[derive(Debug, Clone)]
pub struct PasswordChecks {
    queue: mpsc::Sender<Check>,
}

impl PasswordChecks {
    /// `concurrency` checks at once (0: one per core) and `queue` waiting
    /// (0: four per concurrent check, a fraction of a second of work). The
    /// threads end when the last clone is dropped.
    pub fn new(concurrency: usize, queue: usize) -> std::io::Result<PasswordChecks> {
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            concurrency
        };
        let queue = if queue == 0 { 4 * concurrency } else { queue };
        let (sender, receiver) = mpsc::channel::<Check>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..concurrency {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name("password-check".into())
                .spawn(move || {
                    loop {
                        let next = receiver
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .blocking_recv();
                        match next {
                            Some(check) => check(),
                            None => return,
                        }
                    }
                })?;
        }
        Ok(PasswordChecks { queue: sender })
    }

    /// Runs `check` on a check thread once one is free, or refuses when
    /// the queue is full. A check whose caller has gone (the client hung
    /// up) while it waited is skipped.
    pub async fn run<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (answer, answered) = oneshot::channel();
        let job: Check = Box::new(move || {
            if !answer.is_closed() {
                let _ = answer.send(check());
            }
        });
        self.queue.try_send(job).map_err(|_| Busy)?;
        answered.await.map_err(|_| Busy)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_beyond_the_slots_and_the_queue_are_refused() {
        let checks = PasswordChecks::new(1, 2).unwrap();
        let at_once = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (checks, at_once, most) = (checks.clone(), at_once.clone(), most.clone());
                tokio::spawn(async move {
                    checks
                        .run(move || {
                            let now = at_once.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(50));
                            at_once.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                })
            })
            .collect();
        let mut done = 0;
        let mut busy = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => done += 1,
                Err(Busy) => busy += 1,
            }
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "one check at a time");
        assert!(
            (1..=3).contains(&done),
            "one running and two queued: {done}"
        );
        assert_eq!(done + busy, 10);
        // the queue empties: a later check runs
        assert!(checks.run(|| ()).await.is_ok());
    }
}
