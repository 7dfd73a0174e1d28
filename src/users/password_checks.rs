//! A bound on password checking. One argon2 check takes about 19 MiB and
//! tens of milliseconds of a core; without a bound, a few hundred logins
//! posted at once hash in parallel and take all memory and CPU. Checks run
//! on a few threads of their own (one per core), a short queue waits for
//! them, and a check that finds the queue full is refused at once
//! ([`Busy`]), so a flood costs the server a fixed amount of memory
//! whatever its size.
//!
//! Each thread keeps its argon2 memory and reuses it for every check:
//! allocating 19 MiB per check left freed blocks scattered in the
//! allocator's arenas, and a flood grew the process by a hundred
//! megabytes and more; now it holds one block per thread.

use std::sync::{Arc, Mutex, PoisonError};

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};

/// The queue was full: the caller should answer "try again shortly".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many password checks are waiting")]
pub struct Busy;

/// One check: a password against a PHC string, and where the answer goes.
struct Check {
    password: SecretString,
    hash: String,
    answer: oneshot::Sender<bool>,
}

#[derive(Debug, Clone)]
pub struct PasswordChecks {
    queue: mpsc::Sender<Check>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Check(***)")
    }
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
                    let mut memory = Vec::new();
                    loop {
                        let next = receiver
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .blocking_recv();
                        let Some(check) = next else { return };
                        // the caller hung up while it waited: skip the work
                        if check.answer.is_closed() {
                            continue;
                        }
                        let matches = verify_with(
                            &mut memory,
                            check.password.expose_secret().as_bytes(),
                            &check.hash,
                        );
                        let _ = check.answer.send(matches);
                    }
                })?;
        }
        Ok(PasswordChecks { queue: sender })
    }

    /// Whether `password` matches the PHC string `hash`, checked on a check
    /// thread once one is free; refused when the queue is full.
    pub async fn verify(&self, password: SecretString, hash: String) -> Result<bool, Busy> {
        let (answer, answered) = oneshot::channel();
        self.queue
            .try_send(Check {
                password,
                hash,
                answer,
            })
            .map_err(|_| Busy)?;
        answered.await.map_err(|_| Busy)
    }
}

/// What `Argon2::verify_password` does, in `memory` kept by the caller.
/// Any hash that cannot be read matches nothing.
fn verify_with(memory: &mut Vec<Block>, password: &[u8], hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt.as_ref(), out, &mut memory[..blocks])
        .is_ok()
        && bool::from(out.ct_eq(expected.as_ref()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;

    fn phc(password: &str) -> String {
        Argon2::default()
            .hash_password(password.as_bytes())
            .unwrap()
            .to_string()
    }

    #[test]
    fn checks_agree_with_argon2_and_reuse_their_memory() {
        let hash = phc("correct horse battery");
        let mut memory = Vec::new();
        assert!(verify_with(&mut memory, b"correct horse battery", &hash));
        let kept = memory.as_ptr();
        assert!(!verify_with(&mut memory, b"correct horse batterY", &hash));
        assert_eq!(memory.as_ptr(), kept, "the same memory, not a new block");
        assert!(!verify_with(&mut memory, b"x", "not a phc string"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_beyond_the_threads_and_the_queue_are_refused() {
        let checks = PasswordChecks::new(1, 2).unwrap();
        let hash = phc("a password");
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (checks, hash) = (checks.clone(), hash.clone());
                tokio::spawn(
                    async move { checks.verify(SecretString::from("a password"), hash).await },
                )
            })
            .collect();
        let mut matched = 0;
        let mut busy = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(true) => matched += 1,
                Ok(false) => panic!("the right password did not match"),
                Err(Busy) => busy += 1,
            }
        }
        assert!(
            (1..=3).contains(&matched),
            "one running, two queued: {matched}"
        );
        assert_eq!(matched + busy, 12);
        // the queue empties: a later check runs
        assert_eq!(
            checks.verify(SecretString::from("wrong"), hash).await,
            Ok(false)
        );
    }
}
