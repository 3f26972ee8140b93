//! A prepared appliance root for the day-2 tests: first boot's host phase
//! run by the binary, its completion recorded (there is no cluster), and
//! snapshots to tell exactly which files a run changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use ovaboot::config::Config;
use time::OffsetDateTime;

use super::{mode, text};

/// root's and a system account's shadow lines, before any password is set.
pub const SHADOW: &str = "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n";

/// Where a run records itself (state file and console banner): checked on
/// their own, since a run that applies a change rewrites them by design.
pub const STATE_RECORD: [&str; 2] = ["var/lib/ovaboot/state.json", "etc/issue.d/ovaboot.issue"];

/// Every file under `root` but the state record: relative path → (bytes, mode).
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    super::files_under(root)
        .into_iter()
        .filter(|p| {
            !STATE_RECORD
                .iter()
                .any(|r| p.strip_prefix(root).unwrap() == Path::new(r))
        })
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            (rel, (std::fs::read(&p).unwrap(), mode(&p)))
        })
        .collect()
}

/// The relative paths whose bytes or mode differ (or that appeared or went).
pub fn differences(
    before: &BTreeMap<PathBuf, (Vec<u8>, u32)>,
    after: &BTreeMap<PathBuf, (Vec<u8>, u32)>,
) -> Vec<String> {
    let mut paths: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .map(|p| p.display().to_string())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// One appliance's working folders: the root, and the files tests pass.
pub struct Appliance {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub work: PathBuf,
    pub kubeconfig: String,
    pub config: String,
}

impl Appliance {
    pub fn new() -> Appliance {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let work = dir.path().join("work");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
        let shadow = root.join("etc/shadow");
        std::fs::write(&shadow, SHADOW).unwrap();
        std::fs::set_permissions(&shadow, std::os::unix::fs::PermissionsExt::from_mode(0o640))
            .unwrap();
        let (kubeconfig, config) = super::unreachable_cluster(&work);
        Appliance {
            root,
            work,
            kubeconfig,
            config,
            _dir: dir,
        }
    }

    pub fn env(&self, name: &str, properties: &[(&str, &str)]) -> String {
        super::environment_with(&self.work.join(name), properties)
    }

    pub fn run(&self, command: &str, env: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            command,
            "--root",
            self.root.to_str().unwrap(),
            "--config",
            &self.config,
            "--kubeconfig",
            &self.kubeconfig,
            "--ovf-env",
            env,
        ];
        args.extend_from_slice(extra);
        super::ovaboot(&args)
    }

    pub fn reconfigure(&self, env: &str, extra: &[&str]) -> Output {
        self.run("reconfigure", env, extra)
    }

    /// First boot with `env`: the host phase, then the completion record the
    /// cluster phase writes (there is no cluster here), then a reconfigure
    /// with the same properties, which records their digest (no digest yet:
    /// everything is applied again, which changes nothing).
    pub fn first_boot(&self, env: &str) {
        let out = self.run("firstboot", env, &["--phase", "host"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        super::record_first_boot_completed(&self.root);
        let before = snapshot(&self.root);
        let out = self.reconfigure(env, &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("properties changed: unknown")
                && stdout.contains("host: 0 files written")
                && stdout.contains("the Secret already holds this pair"),
            "{stdout}"
        );
        assert_eq!(
            differences(&before, &snapshot(&self.root)),
            [
                "var/lib/ovaboot/properties.json",
                "var/lib/ovaboot/properties.key"
            ],
            "only the digest and its key are new"
        );
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.root.join(rel)).unwrap()
    }
}

/// The OVF properties in the environment file `env`, read as the binary reads them.
pub fn properties(env: &str) -> ovaboot::ovf::Properties {
    use ovaboot::ovf::transport::{Transport, default_transports};
    let transports: Vec<Box<dyn Transport>> = default_transports(Some(Path::new(env)));
    ovaboot::ovf::read_environment(&transports)
        .unwrap()
        .properties
}

/// The config in `path`, reading the pinned Contour manifest in place.
pub fn config(path: &str) -> Config {
    let mut config = Config::load(Some(Path::new(path))).unwrap();
    config.contour.manifest = Some(super::contour_manifest());
    config
}

/// Completes first boot on `root`, whose host phase has run with `env`, as if
/// it had run at `at` (in the past): the TLS pair becomes the one first boot
/// makes at `at` (so a self-signed one expires `validity_days` after it), then
/// the completion record and the properties' digest are written as that run
/// writes them. Only the pair changes; the other host files stay as written.
pub fn complete_first_boot_at(root: &Path, env: &str, config: &Config, at: OffsetDateTime) {
    use ovaboot::plan::appliance::{TLS_CERT_PATH, TLS_KEY_PATH};
    for path in [TLS_CERT_PATH, TLS_KEY_PATH] {
        std::fs::remove_file(ovaboot::root::under(root, path)).unwrap();
    }
    let props = properties(env);
    let settings = ovaboot::settings::Settings::from_properties(&props).unwrap();
    let facts = ovaboot::facts::read_host_facts(root).unwrap();
    let plan = ovaboot::plan::appliance::build(&settings, config, &facts, at).unwrap();
    let pair: Vec<_> = plan
        .files
        .iter()
        .filter(|f| f.path == Path::new(TLS_CERT_PATH) || f.path == Path::new(TLS_KEY_PATH))
        .cloned()
        .collect();
    ovaboot::apply::files::write_files(root, &pair).unwrap();
    super::record_first_boot_completed(root);
    ovaboot::commands::reconfigure::store_digest(root, &props, &plan, at).unwrap();
}
