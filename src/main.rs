//! The `ovaboot` command line: parses arguments and calls the library. No logic here.

use std::process::ExitCode;

use clap::FromArgMatches as _;

use ovaboot::commands::{firstboot, reconfigure};
use ovaboot::failure::Failure;
use ovaboot::inputs::{self, ConfigSource, EnvironmentSource};

mod cli;

use cli::{Cli, Command, ConfigFile, Kubeconfig, OvfSource};

/// `--version`: the crate's version and the commit it was built from (build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("OVABOOT_COMMIT"),
    ")"
);

fn main() -> ExitCode {
    let cli = Cli::from_arg_matches(&cli::command(VERSION).get_matches())
        .unwrap_or_else(|err| err.exit());
    // apply's and firstboot's progress lines are their output; the other
    // commands log only warnings.
    let verbosity = match cli.command {
        Command::Apply { .. } | Command::Firstboot { .. } | Command::Reconfigure { .. } => {
            cli.verbose.max(1)
        }
        _ => cli.verbose,
    };
    // The others print one line on error and nothing else: their warnings
    // wait until they succeed (unless -v or OVABOOT_LOG asks for the log as
    // it happens).
    let hold = verbosity == 0 && std::env::var_os("OVABOOT_LOG").is_none();
    let log = ovaboot::report::init_logging(verbosity, hold);
    match run(cli.command) {
        Ok(0) => {
            log.release();
            ExitCode::SUCCESS
        }
        // `status` says everything on stdout; its exit status is the answer.
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("ovaboot: error: {}", err.one_line());
            ExitCode::from(err.exit_code())
        }
    }
}

/// Runs `command`; its exit status (not 0 only for `status`), or why it failed.
fn run(command: Command) -> Result<u8, Failure> {
    match command {
        Command::Props { source, json } => {
            let env = environment(&source).read()?;
            // Every check render makes of the properties, before printing anything.
            let config = ConfigSource::default().load()?;
            let now = time::OffsetDateTime::now_utc();
            let settings = ovaboot::commands::props::check(&env, &config, now)?;
            let out = if json {
                ovaboot::commands::props::json(&env, &settings)
            } else {
                ovaboot::commands::props::text(&env, &settings)
            };
            print!("{out}");
        }
        Command::Render {
            out,
            source,
            config,
            root,
        } => {
            use ovaboot::commands::render;
            // Refuse a used folder before any work, and leave it as it was.
            render::check_output_folder(&out)?;
            let config = config_file(&config).load()?;
            let plan = inputs::plan(&environment(&source), &config, &root)?;
            let rendered = render::render(&plan, &out, &root)?;
            let cert = &plan.summary.certificate;
            println!(
                "rendered {} host files{} and {} manifests to {}\nhostname: {}\ncertificate: {} sha256 {} SANs {} valid until {}",
                rendered.host_files,
                match rendered.absent_host_files {
                    0 => String::new(),
                    n => format!(" ({n} more to remove)"),
                },
                rendered.manifests,
                out.display(),
                plan.summary.hostname,
                plan.tls.source.as_str(),
                cert.sha256,
                cert.sans.join(","),
                cert.not_after
            );
        }
        Command::Apply {
            from,
            kubeconfig,
            config,
        } => {
            let config = config_source(&config, &kubeconfig).load()?;
            let objects = ovaboot::cluster::load_manifests(&from)?;
            let summary = ovaboot::commands::apply::apply_to_cluster(&objects, &config.kube)?;
            println!("{summary}");
        }
        Command::Firstboot {
            phase,
            target,
            root,
        } => {
            let request = firstboot::Request {
                phase: phase.into(),
                environment: &environment(&target.source),
                config: &config_source(&target.config, &target.kubeconfig),
                root: &root,
            };
            firstboot::run_phases(&request, |line| println!("{line}"))?;
        }
        Command::Status { json, root } => {
            let status = ovaboot::commands::status::read(&root)?;
            if json {
                print!("{}", ovaboot::commands::status::json(&status));
            } else {
                print!("{}", ovaboot::commands::status::text(&status));
            }
            return Ok(status.exit_code);
        }
        Command::Reconfigure {
            phase,
            dry_run,
            target,
            root,
        } => {
            reconfigure::require_completion(&root)?;
            let config = config_source(&target.config, &target.kubeconfig).load()?;
            let env = environment(&target.source).read()?;
            let request = reconfigure::Request {
                properties: &env.properties,
                config: &config,
                root: &root,
                phase: phase.into(),
                dry_run,
            };
            println!("{}", reconfigure::run_tracked(&request)?);
        }
        Command::Images { config } => {
            let config = config_file(&config).load()?;
            let objects = ovaboot::contour::plan(&config.contour)?;
            for image in ovaboot::contour::images(&objects) {
                println!("{image}");
            }
        }
    }
    Ok(0)
}

impl From<cli::Phase> for firstboot::Phase {
    fn from(phase: cli::Phase) -> Self {
        match phase {
            cli::Phase::Host => firstboot::Phase::Host,
            cli::Phase::Cluster => firstboot::Phase::Cluster,
            cli::Phase::All => firstboot::Phase::All,
        }
    }
}

/// Where `--ovf-env` / `--sample` say the OVF environment comes from.
fn environment(source: &OvfSource) -> EnvironmentSource {
    match (&source.ovf_env, source.sample) {
        (_, true) => EnvironmentSource::Sample,
        (Some(file), false) => EnvironmentSource::File(file.clone()),
        (None, false) => EnvironmentSource::Transports,
    }
}

/// Where `--config` says the config comes from.
fn config_file(file: &ConfigFile) -> ConfigSource {
    ConfigSource {
        file: file.config.clone(),
        kubeconfig: None,
    }
}

/// Where `--config` and `--kubeconfig` say the config comes from.
fn config_source(file: &ConfigFile, kubeconfig: &Kubeconfig) -> ConfigSource {
    ConfigSource {
        kubeconfig: kubeconfig.kubeconfig.clone(),
        ..config_file(file)
    }
}
