// The service allocates many small, short-lived buffers per request
// (HTTP, JSON, database rows) from several threads; mimalloc's per-thread
// free lists spend far less time on them than the system allocator, whose
// malloc and free were a third of the service's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    allot::cli::main()
}
