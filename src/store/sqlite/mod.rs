//! What only SQLite needs: its one-call writes on the direct writer.

pub(crate) mod signups;
