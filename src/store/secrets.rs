//! Server-wide secrets kept in the database, so that every instance sharing a
//! database signs links and sessions with the same key without any set-up.

use rand::RngCore;

use super::{Store, StoreError};

impl Store {
    /// Returns the secret called `name`, creating a random 256-bit one the
    /// first time. Concurrent first calls agree: the insert is a no-op for all
    /// but one, and everyone reads the row that won.
    pub async fn secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        let mut fresh = [0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        sqlx::query(
            "INSERT INTO app_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(hex_encode(&fresh))
        .execute(self.pool())
        .await?;
        let stored: String = sqlx::query_scalar("SELECT value FROM app_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?;
        Ok(stored.into_bytes())
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
