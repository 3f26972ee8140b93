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
    /// Compute the whole first-boot plan and write it to a folder, changing nothing else.
    Render {
        /// The folder to write (must be absent or empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Read the OVF environment from this file instead of guestinfo, CD-ROM or fw_cfg.
        #[arg(long, value_name = "FILE")]
        ovf_env: Option<PathBuf>,
        /// Use the example environment built into ovaboot (ovf/sample-ovf-env.xml).
        #[arg(long, conflicts_with = "ovf_env")]
        sample: bool,
        /// The agent's config (default: /etc/ovaboot/ovaboot.toml if present, else built-in defaults).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The system whose /etc/hosts the plan starts from.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
    },
    /// Apply rendered manifests (DIR/manifests/) to the cluster, in order, waiting until each is ready.
    Apply {
        /// A folder written by `ovaboot render`.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// Kubeconfig (default: [kube] kubeconfig, /etc/rancher/k3s/k3s.yaml, in-cluster, KUBECONFIG).
        #[arg(long, value_name = "FILE")]
        kubeconfig: Option<PathBuf>,
        /// The agent's config (default: /etc/ovaboot/ovaboot.toml if present, else built-in defaults).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Apply the plan to this system (host phase, cluster phase, or both) and record completion.
    Firstboot {
        /// Which part to run: `host` before networkd and k3s, `cluster` after k3s, or `all`.
        #[arg(long, value_enum, default_value = "all")]
        phase: ovaboot::commands::firstboot::Phase,
        /// Read the OVF environment from this file instead of guestinfo, CD-ROM or fw_cfg.
        #[arg(long, value_name = "FILE")]
        ovf_env: Option<PathBuf>,
        /// Use the example environment built into ovaboot (ovf/sample-ovf-env.xml).
        #[arg(long, conflicts_with = "ovf_env")]
        sample: bool,
        /// The agent's config (default: /etc/ovaboot/ovaboot.toml if present, else built-in defaults).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Kubeconfig (default: [kube] kubeconfig, /etc/rancher/k3s/k3s.yaml, in-cluster, KUBECONFIG).
        #[arg(long, value_name = "FILE")]
        kubeconfig: Option<PathBuf>,
        /// The system to configure; the kernel host name and settings are set only when it is `/`.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
    },
    /// Print the container images of the pinned Contour release, one per line (to pre-pull them).
    Images {
        /// The agent's config (default: /etc/ovaboot/ovaboot.toml if present, else built-in defaults).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // apply's progress lines are its output; the other commands log only warnings.
    let verbosity = match cli.command {
        Command::Apply { .. } | Command::Firstboot { .. } => cli.verbose.max(1),
        _ => cli.verbose,
    };
    ovaboot::report::init_logging(verbosity);
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
        Command::Render {
            out,
            ovf_env,
            sample,
            config,
            root,
        } => {
            use ovaboot::commands::render;
            // Refuse a used folder before any work, and leave it as it was.
            render::check_output_folder(&out)?;
            let config = load_config(config.as_deref())?;
            let plan = make_plan(ovf_env, sample, &config, &root)?;
            let rendered = render::render(&plan, &out)?;
            let cert = &plan.summary.certificate;
            println!(
                "rendered {} host files and {} manifests to {}\nhostname: {}\ncertificate: {} sha256 {} SANs {} valid until {}",
                rendered.host_files,
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
        Command::Apply {
            from,
            kubeconfig,
            config,
        } => {
            let mut config = load_config(config.as_deref())?;
            if kubeconfig.is_some() {
                config.kube.kubeconfig = kubeconfig;
            }
            let objects = ovaboot::cluster::load_manifests(&from)?;
            let summary = ovaboot::commands::apply::apply_to_cluster(&objects, &config.kube)?;
            println!("{summary}");
            Ok(())
        }
        Command::Firstboot {
            phase,
            ovf_env,
            sample,
            config,
            kubeconfig,
            root,
        } => {
            use ovaboot::commands::firstboot;
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
            let mut config = load_config(config.as_deref())?;
            if kubeconfig.is_some() {
                config.kube.kubeconfig = kubeconfig;
            }
            let plan = make_plan(ovf_env, sample, &config, &root)?;
            if phase.runs_host() {
                let report = firstboot::apply_host(&plan, &root)?;
                println!(
                    "host: {} files written, {} unchanged",
                    report.written.len(),
                    report.unchanged.len()
                );
            }
            if phase.runs_cluster() {
                let objects: Vec<serde_json::Value> = plan
                    .manifests
                    .iter()
                    .map(|m| m.object.expose().clone())
                    .collect();
                let summary = ovaboot::commands::apply::apply_to_cluster(&objects, &config.kube)?;
                println!("cluster: {summary}");
                let done =
                    firstboot::record_completion(&plan, &root, time::OffsetDateTime::now_utc())?;
                println!(
                    "first boot completed for {}; certificate sha256 {}",
                    done.hostname, done.certificate_sha256
                );
            }
            Ok(())
        }
        Command::Images { config } => {
            let config = load_config(config.as_deref())?;
            let objects = ovaboot::contour::plan(&config.contour)?;
            for image in ovaboot::contour::images(&objects) {
                println!("{image}");
            }
            Ok(())
        }
    }
}

/// The config file, with `OVABOOT_CONTOUR_MANIFEST` (if set) naming where the
/// pinned manifest is on this machine; its sha256 is checked all the same.
fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<ovaboot::config::Config> {
    let mut config = ovaboot::config::Config::load(path)?;
    if let Some(manifest) = std::env::var_os("OVABOOT_CONTOUR_MANIFEST") {
        config.contour.manifest = Some(PathBuf::from(manifest));
    }
    Ok(config)
}

/// The whole plan for the system under `root`: what render writes and firstboot applies.
fn make_plan(
    ovf_env: Option<PathBuf>,
    sample: bool,
    config: &ovaboot::config::Config,
    root: &std::path::Path,
) -> anyhow::Result<ovaboot::plan::appliance::Plan> {
    let env = read_environment(ovf_env, sample)?;
    let settings = ovaboot::settings::Settings::from_properties(&env.properties)?;
    let facts = ovaboot::apply::host::read_host_facts(root)?;
    let now = time::OffsetDateTime::now_utc();
    Ok(ovaboot::plan::appliance::build(
        &settings, config, &facts, now,
    )?)
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
