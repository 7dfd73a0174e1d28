//! The fault suite: Gazette sending while things break. A sender killed
//! with SIGKILL half-way, one stopped with SIGTERM again and again while
//! visitors sign up, an SMTP server that fails and drops at random, a
//! PostgreSQL database that goes away mid-send, and a SQLite file Gazette
//! may not write. Each test prints one `faults:` line with its counts
//! (lost, duplicates, in flight).
//!
//! Sizes are small by default so CI runs the suite in well under a minute;
//! `GAZETTE_FAULT_ROWS=N` sets the rows per test for a full run by hand
//! (`bench/faults/run`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/smtp_server.rs"]
mod smtp_server;

mod process;

mod flaky_smtp;
mod killed_sender;
mod postgres_outage;
mod stopped_sender;
mod unwritable_sqlite;
