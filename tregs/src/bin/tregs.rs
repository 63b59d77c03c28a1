//! The `tregs` command line: `tregs eval` and `tregs bench` (see `tregs --help`).
//!
//! The code lives in `src/cli/`, compiled into this binary only (not into the library).

#[path = "../cli/mod.rs"]
mod cli;

/// Every heap allocation is counted, for `tregs bench`'s peak-memory column.
#[global_allocator]
static ALLOCATOR: cli::alloc::Counting = cli::alloc::Counting;

fn main() -> std::process::ExitCode {
    cli::main()
}
