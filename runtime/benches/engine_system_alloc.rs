//! The engine bench (`engine/run.rs`) with glibc's malloc, the system allocator, to compare
//! with `engine` (the allocator the `flowgen` binary ships with).

#[path = "engine/run.rs"]
mod run;

fn main() {
    run::main("system");
}
