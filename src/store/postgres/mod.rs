//! What only PostgreSQL needs: opening the pool (and the database), and
//! the signups written in one statement built on its own features.

pub(crate) mod claims;
pub(crate) mod connect;
pub(crate) mod search;
pub(crate) mod signups;
