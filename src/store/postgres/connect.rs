//! Opening a PostgreSQL pool: a clear reason when the server cannot be
//! reached, and the database created when it is missing and the server
//! allows it.

use std::str::FromStr;
use std::time::Duration;

use sqlx::{AnyPool, Executor};

use crate::store::{StoreError, pool_options};

pub(crate) async fn connect_postgres(
    url: &str,
    max_connections: u32,
) -> Result<AnyPool, StoreError> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::BadUrl(e.to_string()))?;
    let target = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("postgres")
    );
    let open = || {
        pool_options(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
    };
    // One plain connection first: a pool reports only "timed out" where
    // this says "connection refused" or "password authentication failed".
    let first = {
        use sqlx::Connection;
        sqlx::postgres::PgConnection::connect_with(&options).await
    };
    let pooled = match first {
        Ok(conn) => {
            use sqlx::Connection;
            let _ = conn.close().await;
            open().await
        }
        Err(e) => Err(e),
    };
    match pooled {
        Ok(pool) => Ok(pool),
        Err(e) if is_missing_database(&e) => {
            create_postgres_database(&options).await.map_err(|reason| {
                StoreError::PostgresConnect {
                    target: target.clone(),
                    reason,
                }
            })?;
            open().await.map_err(|e| StoreError::PostgresConnect {
                target,
                reason: e.to_string(),
            })
        }
        Err(e) => Err(StoreError::PostgresConnect {
            target,
            reason: e.to_string(),
        }),
    }
}

fn is_missing_database(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000"))
}

async fn create_postgres_database(
    options: &sqlx::postgres::PgConnectOptions,
) -> Result<(), String> {
    use sqlx::Connection;
    let Some(name) = options.get_database() else {
        return Err("no database name in database.url".into());
    };
    let admin = options.clone().database("postgres");
    let mut conn = sqlx::postgres::PgConnection::connect_with(&admin)
        .await
        .map_err(|e| {
            format!(
                "database \"{name}\" does not exist and Gazette could not connect to \"postgres\" to create it ({e}); create it with: createdb {name}"
            )
        })?;
    let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match conn.execute(sqlx::AssertSqlSafe(statement)).await {
        Ok(_) => Ok(()),
        // another instance created it at the same moment
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => Ok(()),
        Err(e) => Err(format!(
            "database \"{name}\" does not exist and could not be created ({e}); create it with: createdb {name}"
        )),
    }
}
