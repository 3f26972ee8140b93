//! packer/make-ova on a small real disk image: the OVA's layout (ustar, the
//! descriptor first, then the manifest and the VMDK), the descriptor valid
//! against the DMTF OVF 1.1 schema (../shared/ovf-schema, offline) with the
//! embedded ProductSection spliced in and the disk's sizes filled in, the
//! manifest's digests, and a streamOptimized VMDK of the disk's capacity.
//!
//! Needs qemu-img (qemu-utils), xmllint (libxml2-utils) and GNU tar.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ovaboot::ovf::descriptor::{Descriptor, OVF_ENVELOPE_NS, PRODUCT_SECTION_XML};

mod tool_support;
use tool_support::{repo, run};

const RASD_NS: &str =
    "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData";
const VMW_NS: &str = "http://www.vmware.com/schema/ovf";
/// The test disk: 64 MiB with two 4 KiB blocks of data.
const CAPACITY: u64 = 64 << 20;

/// One OVA made from a fresh disk image, and its members unpacked.
struct Ova {
    dir: tempfile::TempDir,
    disk: PathBuf,
    ova: PathBuf,
}

impl Ova {
    fn member(&self, name: &str) -> PathBuf {
        self.dir.path().join("unpacked").join(name)
    }
    fn descriptor(&self) -> String {
        std::fs::read_to_string(self.member("appliance-test.ovf")).unwrap()
    }
}

fn ova() -> &'static Ova {
    static OVA: OnceLock<Ova> = OnceLock::new();
    OVA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("disk.qcow2");
        run(Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2"])
            .arg(&disk)
            .arg(CAPACITY.to_string()));
        // Some data at the start and in the middle, so the VMDK has grains to carry.
        for offset in ["0", "32M"] {
            run(Command::new("qemu-io")
                .args(["-f", "qcow2", "-c"])
                .arg(format!("write -q -P 0x5a {offset} 4096"))
                .arg(&disk));
        }
        let ova = dir.path().join("appliance-test.ova");
        run(Command::new(repo().join("packer/make-ova"))
            .arg("--disk")
            .arg(&disk)
            .arg("--out")
            .arg(&ova));
        let unpacked = dir.path().join("unpacked");
        std::fs::create_dir(&unpacked).unwrap();
        run(Command::new("tar")
            .arg("-xf")
            .arg(&ova)
            .arg("-C")
            .arg(&unpacked));
        Ova { dir, disk, ova }
    })
}

#[test]
fn the_ova_is_ustar_with_the_descriptor_first() {
    let listing = run(Command::new("tar").arg("-tf").arg(&ova().ova));
    assert_eq!(
        listing.lines().collect::<Vec<_>>(),
        [
            "appliance-test.ovf",
            "appliance-test.mf",
            "appliance-test-disk1.vmdk"
        ]
    );
    // The ustar magic of the first header block ("ustar\0" + version "00").
    let bytes = std::fs::read(&ova().ova).unwrap();
    assert_eq!(&bytes[257..265], b"ustar\x0000");
}

fn xmllint_schema(file: &Path) -> std::process::Output {
    let schema = repo().join("../shared/ovf-schema/dsp8023_1.1.1.xsd");
    assert!(
        schema.exists(),
        "the DMTF OVF schema is not at {}",
        schema.display()
    );
    Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schema)
        .arg(file)
        .output()
        .expect("xmllint is installed (libxml2-utils)")
}

#[test]
fn the_descriptor_is_valid_against_the_dmtf_schema() {
    let ovf = ova().member("appliance-test.ovf");
    let output = xmllint_schema(&ovf);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The schema does reject a broken descriptor: a section without its <Info>.
    let broken = ova().dir.path().join("broken.ovf");
    let text = ova()
        .descriptor()
        .replacen("<Info>The guest operating system</Info>", "", 1);
    assert_ne!(text, ova().descriptor());
    std::fs::write(&broken, text).unwrap();
    assert!(!xmllint_schema(&broken).status.success());
}

#[test]
fn the_descriptor_carries_the_embedded_product_section() {
    let text = ova().descriptor();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let sections: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name((OVF_ENVELOPE_NS, "ProductSection")))
        .collect();
    assert_eq!(sections.len(), 1);
    let spliced = Descriptor::parse(&text[sections[0].range()]).unwrap();
    assert_eq!(&spliced, Descriptor::embedded());
    // Verbatim, not just equivalent: the same text as the embedded file.
    let body = |xml: &str| -> Vec<String> {
        let start = xml.find("<ProductSection").unwrap();
        let end = xml.find("</ProductSection>").unwrap();
        xml[start..end]
            .trim_end()
            .lines()
            .map(|l| l.trim().to_owned())
            .collect()
    };
    assert_eq!(body(&text), body(PRODUCT_SECTION_XML));
    let version = sections[0]
        .children()
        .find(|n| n.has_tag_name((OVF_ENVELOPE_NS, "Version")))
        .and_then(|n| n.text());
    assert_eq!(
        version,
        Some(env!("CARGO_PKG_VERSION")),
        "the ProductSection's <Version>"
    );
}

#[test]
fn the_descriptor_asks_for_the_appliances_hardware() {
    let text = ova().descriptor();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let element = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name((OVF_ENVELOPE_NS, name)))
            .unwrap_or_else(|| panic!("no <{name}>"))
    };
    let os = element("OperatingSystemSection");
    assert_eq!(os.attribute((VMW_NS, "osType")), Some("debian12_64Guest"));
    let hardware = element("VirtualHardwareSection");
    assert_eq!(
        hardware.attribute((OVF_ENVELOPE_NS, "transport")),
        Some("com.vmware.guestInfo iso")
    );
    assert!(text.contains("<vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType>"));
    element("AnnotationSection");
    element("NetworkSection");

    // Each <Item> as (ResourceType, ResourceSubType, VirtualQuantity).
    let rasd = |item: roxmltree::Node, name: &str| {
        item.children()
            .find(|n| n.has_tag_name((RASD_NS, name)))
            .and_then(|n| n.text())
            .map(str::to_owned)
    };
    let items: Vec<_> = hardware
        .children()
        .filter(|n| n.has_tag_name((OVF_ENVELOPE_NS, "Item")))
        .map(|item| {
            (
                rasd(item, "ResourceType").unwrap(),
                rasd(item, "ResourceSubType"),
                rasd(item, "VirtualQuantity"),
            )
        })
        .collect();
    let has = |kind: &str, sub: Option<&str>, quantity: Option<&str>| {
        items.iter().any(|(k, s, q)| {
            k == kind
                && (sub.is_none() || s.as_deref() == sub)
                && (quantity.is_none() || q.as_deref() == quantity)
        })
    };
    assert!(has("3", None, Some("2")), "2 vCPUs: {items:?}");
    assert!(has("4", None, Some("8192")), "8 GiB: {items:?}");
    assert!(
        has("6", Some("VirtualSCSI"), None),
        "paravirtual SCSI: {items:?}"
    );
    assert!(has("17", None, None), "a disk: {items:?}");
    assert!(has("10", Some("VmxNet3"), None), "vmxnet3: {items:?}");
    assert!(has("15", None, None), "a CD-ROM drive: {items:?}");
}

/// What `qemu-img info` says of a disk image.
fn qemu_img_info(file: &Path) -> serde_json::Value {
    serde_json::from_str(&run(Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(file)))
    .unwrap()
}

#[test]
fn the_vmdk_is_stream_optimized_with_the_disks_capacity() {
    let vmdk = ova().member("appliance-test-disk1.vmdk");
    let info = qemu_img_info(&vmdk);
    assert_eq!(info["format"], "vmdk");
    assert_eq!(
        info["format-specific"]["data"]["create-type"],
        "streamOptimized"
    );
    assert_eq!(info["virtual-size"], CAPACITY);
    assert_eq!(qemu_img_info(&ova().disk)["virtual-size"], CAPACITY);
    // The same bytes as the disk it came from.
    run(Command::new("qemu-img")
        .args(["compare", "-q"])
        .arg(&ova().disk)
        .arg(&vmdk));

    let text = ova().descriptor();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let file = doc
        .descendants()
        .find(|n| n.has_tag_name((OVF_ENVELOPE_NS, "File")))
        .unwrap();
    assert_eq!(
        file.attribute((OVF_ENVELOPE_NS, "href")),
        Some("appliance-test-disk1.vmdk")
    );
    assert_eq!(
        file.attribute((OVF_ENVELOPE_NS, "size")),
        Some(std::fs::metadata(&vmdk).unwrap().len().to_string().as_str())
    );
    let disk = doc
        .descendants()
        .find(|n| n.has_tag_name((OVF_ENVELOPE_NS, "Disk")))
        .unwrap();
    assert_eq!(
        disk.attribute((OVF_ENVELOPE_NS, "capacity")),
        Some(CAPACITY.to_string().as_str())
    );
    // Two 4 KiB blocks were written; qcow2 allocates them as whole clusters.
    let populated: u64 = disk
        .attribute((OVF_ENVELOPE_NS, "populatedSize"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (2 * 4096..=2 * 65536).contains(&populated),
        "populatedSize {populated}"
    );
}

#[test]
fn the_manifest_holds_each_members_sha256() {
    let manifest = std::fs::read_to_string(ova().member("appliance-test.mf")).unwrap();
    let lines: Vec<&str> = manifest.lines().collect();
    let mut expected = Vec::new();
    for name in ["appliance-test.ovf", "appliance-test-disk1.vmdk"] {
        let digest = run(Command::new("sha256sum").arg(ova().member(name)));
        let hex = digest.split_whitespace().next().unwrap();
        expected.push(format!("SHA256({name})= {hex}"));
    }
    assert_eq!(lines, expected);
}

#[test]
fn bad_arguments_are_refused_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let make_ova = |args: &[&str]| {
        Command::new(repo().join("packer/make-ova"))
            .args(args)
            .output()
            .unwrap()
    };
    let missing = dir.path().join("nope.raw");
    let out = make_ova(&[
        "--disk",
        missing.to_str().unwrap(),
        "--out",
        dir.path().join("x.ova").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--disk") && stderr.contains("no such file"),
        "{stderr}"
    );
    let out = make_ova(&["--disk", missing.to_str().unwrap(), "--out", "x.tar"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}
