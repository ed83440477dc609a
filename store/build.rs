// `sqlx::migrate!` embeds the migration files at compile time, but on stable Rust a new or
// changed migration alone does not make cargo rebuild this crate: tell it to.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
