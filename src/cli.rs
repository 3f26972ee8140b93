//! The command line's definition: arguments only, no behaviour. main.rs parses
//! with it; build.rs includes this file too, to generate the man pages and
//! shell completions, so it depends on nothing but clap and std.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

/// The whole command, with `version` as `--version` prints it (the build
/// knows the commit; this file does not).
pub fn command(version: &'static str) -> clap::Command {
    Cli::command().version(version)
}

#[derive(Parser)]
#[command(
    name = "ovaboot",
    version,
    about = "First-boot agent of a Kubernetes-based VMware appliance"
)]
pub struct Cli {
    /// More log output (-v info, -vv debug); OVABOOT_LOG=<filter> overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the OVF environment comes from.
#[derive(Args)]
pub struct OvfSource {
    /// Read the OVF environment from this file instead of guestinfo, CD-ROM or fw_cfg.
    #[arg(long, value_name = "FILE")]
    pub ovf_env: Option<PathBuf>,
    /// Use the example environment built into ovaboot (ovf/sample-ovf-env.xml).
    #[arg(long, conflicts_with = "ovf_env")]
    pub sample: bool,
}

/// The agent's config file.
#[derive(Args)]
pub struct ConfigFile {
    /// The agent's config (default: /etc/ovaboot/ovaboot.toml if present, else built-in defaults).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Which cluster to talk to.
#[derive(Args)]
pub struct Kubeconfig {
    /// Kubeconfig (default: [kube] kubeconfig, /etc/rancher/k3s/k3s.yaml, in-cluster, KUBECONFIG).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
}

/// What `firstboot` and `reconfigure` work from: the OVF environment, the
/// agent's config and the cluster. (`--root` is each command's own: its help
/// says what the command does to that system.)
#[derive(Args)]
pub struct Target {
    #[command(flatten)]
    pub source: OvfSource,
    #[command(flatten)]
    pub config: ConfigFile,
    #[command(flatten)]
    pub kubeconfig: Kubeconfig,
}

#[derive(Subcommand)]
pub enum Command {
    /// Print the OVF properties and the transport that delivered them (secrets redacted).
    Props {
        #[command(flatten)]
        source: OvfSource,
        #[command(flatten)]
        config: ConfigFile,
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
        /// The system the plan starts from: its /etc/hosts, /etc/shadow and /etc/passwd, and the
        /// certificates a previous run installed (the TLS pair, the xDS CA and pairs).
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
        phase: Phase,
        #[command(flatten)]
        target: Target,
        /// The system to configure; the kernel host name and settings are set only when it is `/`.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
    },
    /// Show where first boot stands; exit 0 when done, 1 while not done yet, 2 when it failed for good.
    Status {
        /// Print one JSON object (status, phase, exit_code, advice, state, completion, unreadable,
        /// certificates).
        #[arg(long)]
        json: bool,
        /// The system to look at: its /var/lib/ovaboot, its certificates, and its
        /// /etc/ovaboot/ovaboot.toml for their warning windows.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
    },
    /// After first boot: renew the xDS certificates when due, and apply the OVF properties that
    /// changed since (host files, the TLS pair and its Secret).
    Reconfigure {
        /// Which part to run: `host` before networkd and k3s, `cluster` after k3s, or `all`.
        #[arg(long, value_enum, default_value = "all")]
        phase: ReconfigurePhase,
        /// Print what would change (files, the certificate's fingerprints, the Secret) and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Run by ovaboot-renew.timer: nothing retries a failure before the timer's next daily run,
        /// so one that may pass is recorded as failed (naming that run), not as waiting to retry.
        #[arg(long)]
        from_timer: bool,
        #[command(flatten)]
        target: Target,
        /// The system to reconfigure (where first boot left its records).
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
    },
    /// Print the container images of the pinned Contour release, one per line (to pre-pull them).
    Images {
        #[command(flatten)]
        config: ConfigFile,
    },
}

/// Which part of day 2 to run (`reconfigure --phase`). Contour and the routes
/// do not depend on the properties: of them, day 2 applies only the two xDS
/// Secrets, when it renews their pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReconfigurePhase {
    /// The host files of the changed properties (before networkd, timesyncd and k3s).
    Host,
    /// The xDS certificates and their Secrets, when due; then the TLS pair and its Secret, if the
    /// certificate changed (after k3s); then the properties' digest.
    Cluster,
    /// Both, in order.
    All,
}

/// Which part of first boot to run (`firstboot --phase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Phase {
    /// Host files, kernel host name, kernel settings (before networkd and k3s).
    Host,
    /// Contour, the TLS Secret and the routes (after k3s), then the completion record.
    Cluster,
    /// Both, in order.
    All,
}
