//! What only PostgreSQL needs: opening the pool (and the database), and
//! the signups written in one statement built on its own features, and
//! the address index's pending list moved in beside them.

pub(crate) mod address_index;
pub(crate) mod claims;
pub(crate) mod connect;
pub(crate) mod search;
pub(crate) mod signups;
