//! Newsletters: what a visitor subscribes to and what a digest is sent for.

pub mod store;

pub use store::Newsletter;
