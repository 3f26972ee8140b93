//! The `ovaboot` command line: parses arguments and calls the library. No logic here.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ovaboot",
    version,
    about = "First-boot agent of a Kubernetes-based VMware appliance"
)]
struct Cli {
    /// More log output (-v info, -vv debug); OVABOOT_LOG=<filter> overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the OVF properties and the transport that delivered them (secrets redacted).
    Props {
        /// Read the OVF environment from this file instead of guestinfo, CD-ROM or fw_cfg.
        #[arg(long, value_name = "FILE")]
        ovf_env: Option<PathBuf>,
        /// Use the example environment built into ovaboot (ovf/sample-ovf-env.xml).
        #[arg(long, conflicts_with = "ovf_env")]
        sample: bool,
        /// Print one JSON object: {"transport": ..., "properties": {...}}.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ovaboot::report::init_logging(cli.verbose);
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ovaboot: error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Props {
            ovf_env,
            sample,
            json,
        } => {
            let env = read_environment(ovf_env, sample)?;
            // Validate before printing anything: bad input prints nothing on stdout.
            ovaboot::settings::Settings::from_properties(&env.properties)?;
            let out = if json {
                ovaboot::commands::props::json(&env)
            } else {
                ovaboot::commands::props::text(&env)
            };
            print!("{out}");
            Ok(())
        }
    }
}

/// Reads the OVF environment from the file given, the built-in sample, or
/// the first transport that delivers one.
fn read_environment(
    ovf_env: Option<PathBuf>,
    sample: bool,
) -> anyhow::Result<ovaboot::ovf::OvfEnvironment> {
    use ovaboot::ovf::transport::{SampleTransport, Transport, default_transports};
    let transports: Vec<Box<dyn Transport>> = if sample {
        vec![Box::new(SampleTransport)]
    } else {
        default_transports(ovf_env.as_deref())
    };
    ovaboot::ovf::read_environment(&transports).context("reading the OVF environment")
}

/// The whole context chain on one line (it names the property or file at
/// fault), skipping a cause whose text an outer message already quotes.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace(['\n', '\r'], " ")
}
