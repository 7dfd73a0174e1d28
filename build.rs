//! `sqlx::migrate!` reads `migrations/` when the crate compiles, but cargo
//! does not know that: a migration added without a change to any `.rs` file
//! was left out of the binary. This makes cargo rebuild when it changes.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
