//! `xcc-controller`: the command line. A thin shell over the library: it
//! parses arguments, runs one subcommand, and reports errors with their
//! chain of causes.
//!
//! Subcommands:
//! - `crd`: print the CustomResourceDefinitions generated from the Rust
//!   types, or write one file per CRD with `--out DIR`.

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xcc_controller::crd;

/// The control plane of xcc-dns.
#[derive(Debug, Parser)]
#[command(name = "xcc-controller", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions (DNSRecord, GatewayDNS) as YAML.
    Crd {
        /// Write one file per CRD into this directory
        /// (`<group>_<plural>.yaml`) instead of printing them.
        #[arg(long, value_name = "DIR", env = "XCC_CRD_OUT")]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crd { out } => run_crd(out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut stderr = io::stderr().lock();
            let _ = write!(stderr, "xcc-controller: {error}");
            let mut source = std::error::Error::source(&*error);
            while let Some(cause) = source {
                let _ = write!(stderr, ": {cause}");
                source = cause.source();
            }
            let _ = writeln!(stderr);
            ExitCode::FAILURE
        }
    }
}

fn run_crd(out: Option<PathBuf>) -> Result<(), Box<dyn std::error::Error>> {
    match out {
        None => {
            let yaml = crd::all_yaml()?;
            io::stdout().lock().write_all(yaml.as_bytes())?;
        }
        Some(dir) => {
            let mut stdout = io::stdout().lock();
            for path in crd::write_dir(&dir)? {
                writeln!(stdout, "wrote {}", path.display())?;
            }
        }
    }
    Ok(())
}
