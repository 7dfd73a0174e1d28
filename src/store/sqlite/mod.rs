//! What only SQLite needs: opening the file, one writer at a time
//! (`writer`), whole transactions in one call (`direct`) with the
//! checkpoints beside them, the signups written there, and the address
//! index kept in batches and merged in steps.

pub(crate) mod address_index;
pub(crate) mod checkpointer;
pub(crate) mod claims;
pub(crate) mod connect;
pub(crate) mod direct;
pub(crate) mod outcomes;
pub(crate) mod search;
pub(crate) mod signups;
pub(crate) mod writer;
