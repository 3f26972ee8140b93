//! A round's objects in the test control plane, and what must hold there.
//! Rounds run two at a time against one control plane, so each has names of
//! its own: its host name, its TLS Secret and root HTTPProxy (through the
//! config the guest is given).

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::checks::{Disk, assert_files_final, disk_of, json_object};
use crate::controlplane_support::{block_on, client, current_status};
use crate::cut::Cut;
use crate::vm_support::Boot;
use crate::vm_support::appliance::{ControlPlane, RECORD, TLS_CERT, TLS_KEY};

/// Where the default routes live, and with them the Secret and the root proxy.
const NAMESPACE: &str = "ovaboot";
/// What ovaboot prints once it has written the completion record.
const COMPLETED: &str = "first boot completed for ";

pub struct Names {
    pub fqdn: String,
    pub secret: String,
    pub proxy: String,
}

impl Names {
    pub fn for_tag(tag: &str) -> Names {
        Names {
            fqdn: format!("{tag}.vmtest.example.org"),
            secret: format!("ovaboot-tls-{tag}"),
            proxy: format!("ovaboot-{tag}"),
        }
    }

    /// The guest's config: the test copy's (tests/vm/appliance/ovaboot.toml)
    /// with the round's names.
    pub fn config(&self) -> String {
        format!(
            "[host]\nretry_timeout_secs = 5\n[kube]\napi_server_timeout_secs = 5\n\
             [tls_secret]\nname = \"{}\"\n[root_proxy]\nname = \"{}\"\n",
            self.secret, self.proxy
        )
    }
}

fn httpproxies(c: &kube::Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("projectcontour.io", "v1", "HTTPProxy");
    Api::namespaced_with(c.clone(), NAMESPACE, &ApiResource::from_gvk(&gvk))
}

/// Removes what an earlier run with the same names left (a replayed seed).
pub fn remove_objects(cp: &ControlPlane, names: &Names) {
    block_on(async {
        let c = client(&cp.kubeconfig).await;
        let params = DeleteParams::default();
        let secrets = Api::<Secret>::namespaced(c.clone(), NAMESPACE);
        for result in [
            secrets.delete(&names.secret, &params).await.map(|_| ()),
            httpproxies(&c)
                .delete(&names.proxy, &params)
                .await
                .map(|_| ()),
        ] {
            match result {
                Ok(()) => {}
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => panic!("removing the objects of {}: {e}", names.fqdn),
            }
        }
    });
}

/// The TLS Secret holds exactly the pair on `disk`, and Contour calls the
/// root HTTPProxy for the round's host name valid.
pub fn assert_cluster_holds_the_pair(cp: &ControlPlane, names: &Names, disk: &Disk) {
    block_on(async {
        let c = client(&cp.kubeconfig).await;
        let secret = Api::<Secret>::namespaced(c.clone(), NAMESPACE)
            .get(&names.secret)
            .await
            .unwrap_or_else(|e| panic!("Secret {NAMESPACE}/{}: {e}", names.secret));
        let data = secret.data.unwrap_or_default();
        let field = |key: &str| data.get(key).map(|b| b.0.clone()).unwrap_or_default();
        assert!(
            field("tls.crt") == disk.file(TLS_CERT).unwrap().into_bytes(),
            "the Secret's tls.crt is not the certificate on disk"
        );
        assert!(
            field("tls.key") == disk.file(TLS_KEY).unwrap().into_bytes(),
            "the Secret's tls.key is not the key on disk"
        );
        let proxy = httpproxies(&c).get(&names.proxy).await.unwrap();
        let proxy = serde_json::to_value(proxy).unwrap();
        assert_eq!(proxy["spec"]["virtualhost"]["fqdn"], names.fqdn.as_str());
        assert_eq!(current_status(&proxy), Some("valid"), "{proxy:#}");
    })
}

/// The completion record was written once, and only after everything: if
/// the cut left it, everything first boot does was already done then (its
/// files final, the Secret the pair) and the next boot left it alone;
/// otherwise the next boot wrote it once, after the cluster's objects and
/// the host files.
pub fn assert_completed_once(
    cut: &Cut,
    next: &Boot,
    names: &Names,
    cp: &ControlPlane,
    expected: &crate::checks::Expected,
) {
    let disk = disk_of(next);
    let record = disk.file(RECORD).expect("first boot is done");
    let completions = next.console_lines(COMPLETED).len();
    if let Some(at_cut) = cut.disk.file(RECORD) {
        assert_eq!(
            record, at_cut,
            "the next boot wrote the completion record again"
        );
        assert_eq!(completions, 0, "the next boot completed first boot again");
        next.assert_unit_skipped("ovaboot-host.service");
        next.assert_unit_skipped("ovaboot-cluster.service");
        // Written only after everything: all of it was there at the cut.
        assert_files_final(&cut.disk, expected);
        assert_cluster_holds_the_pair(cp, names, &cut.disk);
        return;
    }
    assert_eq!(
        completions, 1,
        "{}: {completions} completion lines",
        next.name
    );
    assert_cluster_holds_the_pair(cp, names, &disk);
    // Its time against the files' (both the guest's clock; the API server's
    // is the host's, which the guest's is not exactly).
    let completed_at = json_object(&disk, RECORD)["completed_at"]
        .as_str()
        .map(|t| OffsetDateTime::parse(t, &Rfc3339).expect("completed_at is RFC 3339"))
        .expect("the record says when");
    let first_boot_files = disk
        .stat
        .keys()
        .filter(|p| !p.starts_with("var/lib/ovaboot") && !p.starts_with("etc/issue.d"));
    for path in first_boot_files {
        let mtime = disk.mtime(path);
        assert!(
            completed_at.unix_timestamp() >= mtime,
            "the record ({completed_at}) predates {path} (mtime {mtime})"
        );
    }
    assert_journal_order(next);
}

/// In the next boot's journal (one clock, the guest's), ovaboot wrote the
/// completion record after it applied the last object and after every host
/// file it wrote; after the record come only the digest, the state record
/// and the banner that shows it.
fn assert_journal_order(next: &Boot) {
    let lines: Vec<&str> = next
        .journal
        .lines()
        .filter(|l| l.contains("ovaboot["))
        .collect();
    let record = lines
        .iter()
        .rposition(|l| l.contains("wrote path=/var/lib/ovaboot/firstboot.json"))
        .unwrap_or_else(|| panic!("{}: the journal has no write of the record", next.name));
    let applied = lines
        .iter()
        .rposition(|l| is_apply_line(l))
        .expect("the cluster phase's objects in the journal");
    assert!(
        applied < record,
        "the record was written before: {}",
        lines[applied]
    );
    let host_file = |l: &&str| {
        l.contains("wrote path=")
            && !l.contains("path=/var/lib/ovaboot/")
            && !l.contains("path=/etc/issue.d/")
    };
    if let Some(last) = lines.iter().rposition(host_file) {
        assert!(
            last < record,
            "a file written after the record: {}",
            lines[last]
        );
    }
}

/// An apply progress line: `... [3/24] Namespace ovaboot: changed`.
fn is_apply_line(line: &str) -> bool {
    line.split_once(" [").is_some_and(|(_, rest)| {
        rest.split_once("] ").is_some_and(|(count, _)| {
            count
                .split_once('/')
                .is_some_and(|(n, of)| n.parse::<u32>().is_ok() && of.parse::<u32>().is_ok())
        })
    })
}

#[test]
fn apply_lines_are_told_from_other_lines() {
    assert!(is_apply_line(
        "[   51.2] pc.vmtest.example.org ovaboot[369]:  INFO [3/24] Namespace ovaboot: changed"
    ));
    assert!(!is_apply_line(
        "[   51.4] pc.vmtest.example.org ovaboot[369]:  INFO wrote path=/etc/hosts mode=644"
    ));
    assert!(!is_apply_line("[   51.4] x ovaboot[369]: cluster: [a/b] c"));
}
