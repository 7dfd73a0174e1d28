//! What only PostgreSQL does: statements built on its own features.

pub(crate) mod signups;
