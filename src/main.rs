//! The `ovaboot` command line: parses arguments and calls the library. No logic here.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::FromArgMatches as _;

use ovaboot::commands::{firstboot, reconfigure};
use ovaboot::state;

mod cli;

use cli::{Cli, Command, ConfigFile, Kubeconfig, OvfSource};

/// `--version`: the crate's version and the commit it was built from (build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("OVABOOT_COMMIT"),
    ")"
);

/// Exit status when running again cannot help (bad input, a refusal): the
/// systemd unit does not restart on it (`RestartPreventExitStatus=2`).
const EXIT_PERMANENT: u8 = 2;

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
        Ok(()) => {
            log.release();
            ExitCode::SUCCESS
        }
        Err(err) => {
            // `status` says everything on stdout; its exit status is the answer.
            if let Some(StatusExit(code)) = err.downcast_ref::<StatusExit>() {
                return ExitCode::from(*code);
            }
            eprintln!("ovaboot: error: {}", one_line(&err));
            if is_transient(&err) {
                ExitCode::FAILURE
            } else {
                ExitCode::from(EXIT_PERMANENT)
            }
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Props { source, json } => {
            let env = read_environment(&source)?;
            // Every check render makes of the properties, before printing anything.
            let config = load_config(
                &ConfigFile { config: None },
                &Kubeconfig { kubeconfig: None },
            )?;
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
            let config = load_config(&config, &Kubeconfig { kubeconfig: None })?;
            let plan = make_plan(&source, &config, &root)?;
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
            let config = load_config(&config, &kubeconfig)?;
            let objects = ovaboot::cluster::load_manifests(&from)?;
            let summary = ovaboot::commands::apply::apply_to_cluster(&objects, &config.kube)?;
            println!("{summary}");
        }
        Command::Firstboot {
            phase,
            source,
            config,
            kubeconfig,
            root,
        } => {
            if let Some(done) = firstboot::completed(&root)? {
                println!(
                    "first boot already completed at {} for {}; nothing to do (remove {} to run it again)",
                    done.completed_at,
                    done.hostname,
                    root.join(firstboot::COMPLETION_PATH.trim_start_matches('/'))
                        .display()
                );
                return Ok(());
            }
            let phase: firstboot::Phase = phase.into();
            let mut planned = None;
            if phase.runs_host() {
                planned = Some(recorded(&root, state::Phase::Host, |state| {
                    host_phase(&source, &config, &kubeconfig, &root, state)
                })?);
            }
            if phase.runs_cluster() {
                recorded(&root, state::Phase::Cluster, |state| {
                    cluster_phase(planned.take(), &source, &config, &kubeconfig, &root, state)
                })?;
            }
        }
        Command::Status { json, root } => {
            let status = ovaboot::commands::status::read(&root)?;
            if json {
                print!("{}", ovaboot::commands::status::json(&status));
            } else {
                print!("{}", ovaboot::commands::status::text(&status));
            }
            if status.exit_code != 0 {
                return Err(StatusExit(status.exit_code).into());
            }
        }
        Command::Reconfigure {
            phase,
            dry_run,
            source,
            config,
            kubeconfig,
            root,
        } => {
            reconfigure::require_completion(&root)?;
            let config = load_config(&config, &kubeconfig)?;
            let env = read_environment(&source)?;
            let request = reconfigure::Request {
                properties: &env.properties,
                config: &config,
                root: &root,
                phase: phase.into(),
                dry_run,
            };
            // Recorded (state file, banner, guestinfo) only when a property
            // changed: an ordinary boot leaves first boot's "done" showing,
            // and a dry run changes nothing at all.
            let comparison = reconfigure::compare(&root, &env.properties)?;
            if dry_run || comparison.unchanged() {
                println!("{}", reconfigure::run_compared(&request, comparison)?);
            } else {
                recorded(&root, state::Phase::Reconfigure, |state| {
                    let outcome = reconfigure::run_compared(&request, comparison)?;
                    if let reconfigure::Outcome::Applied(applied) = &outcome
                        && let Some(made_by) = applied.certificate_source
                    {
                        let url = state.url.clone().unwrap_or_default();
                        state.appliance(&url, &applied.certificate_after, made_by.into());
                    }
                    println!("{outcome}");
                    Ok(())
                })?;
            }
        }
        Command::Images { config } => {
            let config = load_config(&config, &Kubeconfig { kubeconfig: None })?;
            let objects = ovaboot::contour::plan(&config.contour)?;
            for image in ovaboot::contour::images(&objects) {
                println!("{image}");
            }
        }
    }
    Ok(())
}

/// `status`'s answer when first boot is not done (not an error to print).
#[derive(Debug, thiserror::Error)]
#[error("exit {0}")]
struct StatusExit(u8);

/// Runs one phase with its state recorded (state file, console banner,
/// guestinfo): running at the start; done, waiting to retry (a cause that
/// may pass, and systemd restarts the cluster unit) or failed at the end,
/// with the same one line `main` prints.
fn recorded<T>(
    root: &Path,
    phase: state::Phase,
    run: impl FnOnce(&mut state::State) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let previous = state::load(root).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "starting a new state file");
        None
    });
    let mut record = state::State::start(previous, phase, time::OffsetDateTime::now_utc());
    state::record(root, &record);
    let result = run(&mut record);
    let now = time::OffsetDateTime::now_utc();
    match &result {
        Ok(_) => record.done(now),
        // The cluster units are restarted by systemd; the host phase has
        // already waited out its own deadline.
        Err(err) if is_transient(err) && phase != state::Phase::Host => {
            record.waiting(&one_line(err))
        }
        Err(err) => record.failed(&one_line(err), !is_transient(err), now),
    }
    state::record(root, &record);
    result
}

/// The host phase: the plan (the OVF environment's transports retried with
/// backoff up to `[host] retry_timeout_secs` while the cause may pass), then
/// the host files. Returns the environment and plan for the cluster phase of
/// `--phase all`.
fn host_phase(
    source: &OvfSource,
    config: &ConfigFile,
    kubeconfig: &Kubeconfig,
    root: &Path,
    record: &mut state::State,
) -> anyhow::Result<(ovaboot::ovf::OvfEnvironment, ovaboot::plan::appliance::Plan)> {
    let config = load_config(config, kubeconfig)?;
    let started = std::time::Instant::now();
    let found = ovaboot::commands::retry::until_deadline(
        std::time::Duration::from_secs(config.host.retry_timeout_secs),
        || started.elapsed(),
        is_transient,
        |err, delay| {
            let line = one_line(err);
            tracing::warn!(
                "{line}; trying again in {:.1} s (until host.retry_timeout_secs = {})",
                delay.as_secs_f64(),
                config.host.retry_timeout_secs
            );
            record.waiting(&line);
            state::record(root, record);
            std::thread::sleep(delay);
        },
        || {
            let env = read_environment(source)?;
            let plan = plan_for(&env, &config, root)?;
            Ok((env, plan))
        },
    )?;
    let (env, plan) = found;
    appliance(record, &plan, root);
    let host = firstboot::apply_host(&plan, root)?;
    println!(
        "host: {} files written, {} unchanged, {} removed",
        host.written.len(),
        host.unchanged.len(),
        host.removed.len()
    );
    Ok((env, plan))
}

/// The cluster phase: the manifests, then the completion record and the
/// properties' digest (what `reconfigure` compares later boots with).
fn cluster_phase(
    planned: Option<(ovaboot::ovf::OvfEnvironment, ovaboot::plan::appliance::Plan)>,
    source: &OvfSource,
    config: &ConfigFile,
    kubeconfig: &Kubeconfig,
    root: &Path,
    record: &mut state::State,
) -> anyhow::Result<()> {
    let config = load_config(config, kubeconfig)?;
    let (env, plan) = match planned {
        Some(planned) => planned,
        None => {
            let env = read_environment(source)?;
            let plan = plan_for(&env, &config, root)?;
            (env, plan)
        }
    };
    appliance(record, &plan, root);
    let report = firstboot::run(&plan, firstboot::Phase::Cluster, root, &config.kube)?;
    if let Some(cluster) = &report.cluster {
        println!("cluster: {cluster}");
    }
    if let Some(done) = &report.completion {
        reconfigure::record(
            root,
            &env.properties,
            &plan,
            time::OffsetDateTime::now_utc(),
        )?;
        println!(
            "first boot completed for {}; certificate sha256 {}",
            done.hostname, done.certificate_sha256
        );
    }
    Ok(())
}

/// Records what the plan says the appliance is.
fn appliance(record: &mut state::State, plan: &ovaboot::plan::appliance::Plan, root: &Path) {
    record.appliance(
        &format!("https://{}/", plan.hostname.fqdn()),
        &plan.tls.leaf_sha256,
        plan.tls.source.into(),
    );
    state::record(root, record);
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

/// The config file, with `--kubeconfig` and `OVABOOT_CONTOUR_MANIFEST` (if
/// set, where the pinned manifest is on this machine; its sha256 is checked
/// all the same) over it.
fn load_config(
    file: &ConfigFile,
    kubeconfig: &Kubeconfig,
) -> anyhow::Result<ovaboot::config::Config> {
    let mut config = ovaboot::config::Config::load(file.config.as_deref())?;
    if let Some(path) = &kubeconfig.kubeconfig {
        config.kube.kubeconfig = Some(path.clone());
    }
    if let Some(manifest) = std::env::var_os("OVABOOT_CONTOUR_MANIFEST") {
        let manifest = std::path::absolute(&manifest).with_context(|| {
            format!(
                "OVABOOT_CONTOUR_MANIFEST={}",
                Path::new(&manifest).display()
            )
        })?;
        config.contour.manifest = Some(manifest);
    }
    Ok(config)
}

/// The whole plan for the system under `root`: what render writes and firstboot applies.
fn make_plan(
    source: &OvfSource,
    config: &ovaboot::config::Config,
    root: &Path,
) -> anyhow::Result<ovaboot::plan::appliance::Plan> {
    plan_for(&read_environment(source)?, config, root)
}

/// [`make_plan`] for an environment already read.
fn plan_for(
    env: &ovaboot::ovf::OvfEnvironment,
    config: &ovaboot::config::Config,
    root: &Path,
) -> anyhow::Result<ovaboot::plan::appliance::Plan> {
    let settings = ovaboot::settings::Settings::from_properties(&env.properties)?;
    let facts = ovaboot::apply::host::read_host_facts(root)?;
    let now = time::OffsetDateTime::now_utc();
    Ok(ovaboot::plan::appliance::build(
        &settings, config, &facts, now,
    )?)
}

/// Reads the OVF environment from the file given, the built-in sample, or
/// the first transport that delivers one.
fn read_environment(source: &OvfSource) -> anyhow::Result<ovaboot::ovf::OvfEnvironment> {
    use ovaboot::ovf::transport::{SampleTransport, Transport, default_transports};
    let transports: Vec<Box<dyn Transport>> = if source.sample {
        vec![Box::new(SampleTransport)]
    } else {
        default_transports(source.ovf_env.as_deref())
    };
    ovaboot::ovf::read_environment(&transports).context("reading the OVF environment")
}

/// Whether running again may succeed: the cluster (or the OVF environment's
/// device) was not there or not ready yet. Bad input and refusals are not.
fn is_transient(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        if let Some(e) = cause.downcast_ref::<ovaboot::cluster::ApplyError>() {
            !e.is_permanent()
        } else if let Some(e) = cause.downcast_ref::<ovaboot::commands::apply::ClusterRunError>() {
            !e.is_permanent()
        } else if let Some(e) = cause.downcast_ref::<firstboot::FirstbootError>() {
            !e.is_permanent()
        } else if let Some(e) = cause.downcast_ref::<reconfigure::ReconfigureError>() {
            !e.is_permanent()
        } else {
            matches!(
                cause.downcast_ref::<ovaboot::ovf::OvfError>(),
                Some(ovaboot::ovf::OvfError::NotFound(_) | ovaboot::ovf::OvfError::Failed(_))
            )
        }
    })
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
