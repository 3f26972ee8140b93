//! ovaboot: the first-boot agent of a Kubernetes-based VMware appliance.
//!
//! The flow runs one way: the OVF environment (what the admin typed into the
//! vSphere wizard) is read by [`ovf`], validated into typed [`settings`],
//! planned (pure) with the agent's [`config`] and the [`facts`] read from the
//! system, then applied: host files by [`apply`], objects by [`cluster`]. See
//! `../shared/DESIGN.md` and docs/architecture.md.
//!
//! The modules, in that order:
//! - [`ovf`]: transports (guestinfo, ISO, fw_cfg, a file) and the `ovf-env.xml` document.
//! - [`settings`]: the properties as typed, validated values; every error names its property.
//! - [`config`]: `/etc/ovaboot/ovaboot.toml`, the agent's own settings.
//! - [`facts`]: what is read from the system a plan is made for (`/etc/hosts`,
//!   root's home, `/etc/shadow`, the interface, the installed TLS pair, the kept xDS pairs).
//! - [`plan`]: pure plans: host files, credentials, the whole appliance ([`plan::appliance`])
//!   and its summary ([`plan::summary`]).
//! - [`tls`], [`xds`], [`contour`], [`routes`]: the certificate, the xDS CA and pairs
//!   Contour and envoy authenticate each other with (minted, kept and renewed), the
//!   pinned Contour release and the HTTPProxy routes, as plan steps.
//! - [`apply`]: executors: files written atomically under a root, the kernel host
//!   name, systemd's reload flag.
//! - [`cluster`]: the Kubernetes executor: server-side apply, readiness, the apply record.
//! - [`state`]: every record under `/var/lib/ovaboot` (where a phase stands, first
//!   boot's completion, the applied properties' digest), the console banner and the
//!   guestinfo keys vSphere shows; [`certificates`]: every certificate the appliance
//!   lives on, with its window (what `status` and the banner's warning show).
//! - [`commands`]: one module per subcommand; [`inputs`] is what they start from.
//! - [`failure`]: one line per error and its exit status ([`failure::Transience`]);
//!   [`retry`]: backoff to a deadline.
//! - [`run_lock`]: one run at a time on one system.
//! - [`root`]: paths under the system being configured; [`report`]: logging;
//!   [`show`]: what of an outside value may be shown (escaped, credentials withheld);
//!   [`secret`]: values that never show; [`systemd_syntax`], [`yaml`]: formats.

pub mod apply;
pub mod auth;
pub mod certificates;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod contour;
pub mod facts;
pub mod failure;
pub mod inputs;
pub mod ovf;
pub mod plan;
pub mod report;
pub mod retry;
pub mod root;
pub mod routes;
pub mod run_lock;
pub mod secret;
pub mod settings;
pub mod show;
pub mod state;
pub mod systemd_syntax;
pub mod tls;
pub mod xds;
pub mod yaml;
