//! The `ovaboot` command line: parses arguments and calls the library. No logic here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use ovaboot::commands::firstboot;

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

/// Where the OVF environment comes from.
#[derive(Args)]
struct OvfSource {
    /// Read the OVF environment from this file instead of guestinfo, CD-ROM or fw_cfg.
    #[arg(long, value_name = "FILE")]
    ovf_env: Option<PathBuf>,
    /// Use the example environment built into ovaboot (ovf/sample-ovf-env.xml).
    #[arg(long, conflicts_with = "ovf_env")]
    sample: bool,
}

/// The agent's config file.
#[derive(Args)]
struct ConfigFile {
    /// The agent's config (default: /etc/ovaboot/ovaboot.toml if present, else built-in defaults).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Which cluster to talk to.
#[derive(Args)]
struct Kubeconfig {
    /// Kubeconfig (default: [kube] kubeconfig, /etc/rancher/k3s/k3s.yaml, in-cluster, KUBECONFIG).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the OVF properties and the transport that delivered them (secrets redacted).
    Props {
        #[command(flatten)]
        source: OvfSource,
        /// Print one JSON object: {"transport": ..., "properties": {...}}.
        #[arg(long)]
        json: bool,
    },
    /// Compute the whole first-boot plan and write it to a folder, changing nothing else.
    Render {
        /// The folder to write (must be absent or empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        source: OvfSource,
        #[command(flatten)]
        config: ConfigFile,
        /// The system the plan starts from: its /etc/hosts and the certificate a previous run installed.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
    },
    /// Apply rendered manifests (DIR/manifests/) to the cluster, in order, waiting until each is ready.
    Apply {
        /// A folder written by `ovaboot render`.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        #[command(flatten)]
        kubeconfig: Kubeconfig,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Apply the plan to this system (host phase, cluster phase, or both) and record completion.
    Firstboot {
        /// Which part to run: `host` before networkd and k3s, `cluster` after k3s, or `all`.
        #[arg(long, value_enum, default_value = "all")]
        phase: firstboot::Phase,
        #[command(flatten)]
        source: OvfSource,
        #[command(flatten)]
        config: ConfigFile,
        #[command(flatten)]
        kubeconfig: Kubeconfig,
        /// The system to configure; the kernel host name and settings are set only when it is `/`.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
    },
    /// Print the container images of the pinned Contour release, one per line (to pre-pull them).
    Images {
        #[command(flatten)]
        config: ConfigFile,
    },
}

/// Exit status when running again cannot help (bad input, a refusal): the
/// systemd unit does not restart on it (`RestartPreventExitStatus=2`).
const EXIT_PERMANENT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // apply's and firstboot's progress lines are their output; the other
    // commands log only warnings.
    let verbosity = match cli.command {
        Command::Apply { .. } | Command::Firstboot { .. } => cli.verbose.max(1),
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
            let config = load_config(&config, &kubeconfig)?;
            let plan = make_plan(&source, &config, &root)?;
            let report = firstboot::run(&plan, phase, &root, &config.kube)?;
            if let Some(host) = &report.host {
                println!(
                    "host: {} files written, {} unchanged, {} removed",
                    host.written.len(),
                    host.unchanged.len(),
                    host.removed.len()
                );
            }
            if let Some(cluster) = &report.cluster {
                println!("cluster: {cluster}");
            }
            if let Some(done) = &report.completion {
                println!(
                    "first boot completed for {}; certificate sha256 {}",
                    done.hostname, done.certificate_sha256
                );
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
    let env = read_environment(source)?;
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
