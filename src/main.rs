//! The `ovaboot` command line: parses arguments and calls the library. No logic here.

use std::path::Path;
use std::process::ExitCode;

use clap::FromArgMatches as _;

use ovaboot::commands::{firstboot, reconfigure};
use ovaboot::failure::{EXIT_PERMANENT, Failure};
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
    let cli = match cli::command(VERSION)
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    // apply's, firstboot's and reconfigure's progress lines are their output;
    // the other commands log only warnings.
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
        // `status` says everything on stdout, and so does a reconfigure that
        // left a property change to the next boot: the exit status is the answer.
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("ovaboot: error: {}", err.one_line());
            ExitCode::from(err.exit_code())
        }
    }
}

/// `--help` and `--version` as clap prints them; a usage error as one line,
/// like every other error, with where to read more (exit 2: running again
/// the same way cannot help).
fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    // The subcommand named on the command line, if any: its --help says more.
    let subcommands: Vec<String> = cli::command(VERSION)
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    let named = std::env::args()
        .skip(1)
        .find(|arg| subcommands.contains(arg));
    let command = match named {
        Some(name) => format!("ovaboot {name}"),
        None => "ovaboot".to_owned(),
    };
    eprintln!(
        "ovaboot: error: {}; see '{command} --help'",
        one_line_usage(&err.render().to_string())
    );
    ExitCode::from(EXIT_PERMANENT)
}

/// clap's several lines (`error: ...`, indented details, `tip:` lines,
/// `Usage: ...`, where to read more) as one: the error and its details.
fn one_line_usage(rendered: &str) -> String {
    rendered
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .filter(|line| !line.starts_with("tip:"))
        .map(|line| line.strip_prefix("error: ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command`; its exit status (not 0 only for `status`, and for a
/// `reconfigure` that left a change to the next boot: 3), or why it failed.
fn run(command: Command) -> Result<u8, Failure> {
    match command {
        Command::Props {
            source,
            config,
            json,
        } => props(&source, &config, json)?,
        Command::Render {
            out,
            source,
            config,
            root,
        } => render(&out, &source, &config, &root)?,
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
        Command::Status { json, root } => return status(json, &root),
        Command::Reconfigure {
            phase,
            dry_run,
            from_timer,
            target,
            root,
        } => {
            let invocation = reconfigure::Invocation {
                environment: &environment(&target.source),
                config: &config_source(&target.config, &target.kubeconfig),
                root: &root,
                phase: phase.into(),
                dry_run,
                retry: match from_timer {
                    true => ovaboot::state::Retry::NextTimerRun,
                    false => ovaboot::state::Retry::Soon,
                },
            };
            let outcome = reconfigure::run_invocation(&invocation, |line| println!("{line}"))?;
            println!("{outcome}");
            return Ok(outcome.exit_code());
        }
        Command::Images { config } => {
            let config = config_file(&config).load()?;
            let objects = ovaboot::contour::plan(&config.contour)?;
            let mut images = ovaboot::contour::images(&objects);
            // The auth server runs only behind a protected route.
            if ovaboot::routes::protected(&config.routes()).is_some() {
                images.push(config.auth.image_reference());
                images.sort();
                images.dedup();
            }
            for image in images {
                println!("{image}");
            }
        }
    }
    Ok(0)
}

/// `props`: every check render makes of the properties, before printing anything.
fn props(source: &OvfSource, config: &ConfigFile, json: bool) -> Result<(), Failure> {
    use ovaboot::commands::props;
    let env = environment(source).read()?;
    let config = config_file(config).load()?;
    let settings = props::check(&env, &config, time::OffsetDateTime::now_utc())?;
    if json {
        print!("{}", props::json(&env, &settings));
    } else {
        print!("{}", props::text(&env, &settings));
    }
    Ok(())
}

/// `render`: the plan, written to `out`, and what it holds in a few lines.
fn render(out: &Path, source: &OvfSource, config: &ConfigFile, root: &Path) -> Result<(), Failure> {
    use ovaboot::commands::render;
    // Refuse a used folder before any work, and leave it as it was.
    render::check_output_folder(out)?;
    let config = config_file(config).load()?;
    let plan = inputs::plan(&environment(source), &config, root)?;
    let rendered = render::render(&plan, out, root)?;
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
    Ok(())
}

/// `status`: where first boot stands, and its exit status as the answer.
fn status(json: bool, root: &Path) -> Result<u8, Failure> {
    use ovaboot::commands::status;
    let status = status::read(root)?;
    if json {
        print!("{}", status::json(&status));
    } else {
        print!("{}", status::text(&status));
    }
    Ok(status.exit_code)
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

impl From<cli::ReconfigurePhase> for reconfigure::Phase {
    fn from(phase: cli::ReconfigurePhase) -> Self {
        match phase {
            cli::ReconfigurePhase::Host => reconfigure::Phase::Host,
            cli::ReconfigurePhase::Cluster => reconfigure::Phase::Cluster,
            cli::ReconfigurePhase::All => reconfigure::Phase::All,
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
