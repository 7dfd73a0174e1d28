//! What a face of the store runs its statements on: the pool, which lends
//! a connection for each call, or a transaction the caller holds (a change
//! of several steps, written once in domain code on [`super::WriteTx`]).
//! Each face keeps one [`On`], so a statement is written once for both.

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};

pub enum On<'a> {
    Pool(&'a AnyPool),
    Tx(&'a mut AnyConnection),
}

/// A connection for one call: lent by the pool, or the transaction's.
pub enum Conn<'a> {
    Lent(PoolConnection<Any>),
    Held(&'a mut AnyConnection),
}

impl On<'_> {
    pub async fn conn(&mut self) -> Result<Conn<'_>, sqlx::Error> {
        match self {
            On::Pool(pool) => Ok(Conn::Lent(pool.acquire().await?)),
            On::Tx(conn) => Ok(Conn::Held(conn)),
        }
    }
}

impl Deref for Conn<'_> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            Conn::Lent(conn) => conn,
            Conn::Held(conn) => conn,
        }
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Conn::Lent(conn) => conn,
            Conn::Held(conn) => conn,
        }
    }
}
