//! The kvwatch binary: everything lives in the library; see `kvwatch::cli`.

fn main() -> std::process::ExitCode {
    kvwatch::cli::main()
}
