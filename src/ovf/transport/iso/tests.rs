use std::process::Command;

use super::*;

fn have(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok()
}

/// Builds a real ISO 9660 image with xorriso (CI installs it).
fn make_iso(dir: &Path, label: &str, files: &[(&str, &[u8])]) -> PathBuf {
    assert!(have("xorriso"), "needs xorriso: it is not installed");
    let content = dir.join(format!("content-{}", label.replace(' ', "_")));
    std::fs::create_dir_all(&content).unwrap();
    for (name, bytes) in files {
        std::fs::write(content.join(name), bytes).unwrap();
    }
    let image = dir.join(format!("{}.iso", label.replace(' ', "_")));
    let status = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-J", "-R", "-V", label, "-o"])
        .arg(&image)
        .arg(&content)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "xorriso: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    image
}

/// Why a real mount cannot be done here, if it cannot.
fn cannot_mount(fstype: &str) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root".into());
    }
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    if !filesystems.split_whitespace().any(|f| f == fstype) {
        return Some(format!(
            "the kernel has no {fstype} support (/proc/filesystems)"
        ));
    }
    if !have("losetup") {
        return Some("losetup is not installed".into());
    }
    None
}

/// A read-only loop device over an image, detached on drop.
struct Loop(PathBuf);

impl Loop {
    fn attach(image: &Path) -> Loop {
        let out = Command::new("losetup")
            .args(["--find", "--show", "--read-only"])
            .arg(image)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "losetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Loop(PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

fn is_mounted(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let path = path.to_str().unwrap();
    info.lines().any(|l| l.split(' ').nth(4) == Some(path))
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
#[ignore = "needs xorriso: builds a real ISO 9660 image"]
fn volume_label_is_read_from_a_real_iso_image() {
    let dir = tempfile::tempdir().unwrap();
    let ovf = make_iso(dir.path(), "OVF ENV", &[("ovf-env.xml", b"<Environment/>")]);
    let other = make_iso(dir.path(), "DEBIAN 12", &[("README", b"hi")]);
    assert_eq!(read_volume_label(&ovf).unwrap().as_deref(), Some("OVF ENV"));
    assert_eq!(
        read_volume_label(&other).unwrap().as_deref(),
        Some("DEBIAN 12")
    );
}

#[test]
fn non_iso_data_has_no_label() {
    let dir = tempfile::tempdir().unwrap();
    let zeros = dir.path().join("zeros.img");
    std::fs::write(&zeros, vec![0u8; 64 * 1024]).unwrap();
    assert_eq!(read_volume_label(&zeros).unwrap(), None);
    let short = dir.path().join("short.img");
    std::fs::write(&short, b"CD001").unwrap();
    assert_eq!(read_volume_label(&short).unwrap(), None);
}

#[test]
fn candidates_are_cdrom_drives_from_sysfs_and_dev() {
    let root = tempfile::tempdir().unwrap();
    let (sys, dev) = (root.path().join("sys"), root.path().join("dev"));
    for name in ["sr0", "vda", "sr1", "srx"] {
        std::fs::create_dir_all(sys.join("block").join(name)).unwrap();
    }
    std::fs::create_dir_all(&dev).unwrap();
    for name in ["sr1", "sr2", "sda", "sr"] {
        std::fs::write(dev.join(name), b"").unwrap();
    }
    let t = IsoTransport::new().with_roots(&sys, &dev);
    assert_eq!(t.candidates(), ["sr0", "sr1", "sr2"].map(|n| dev.join(n)));
}

#[test]
fn no_drive_is_skipped() {
    let root = tempfile::tempdir().unwrap();
    let t = IsoTransport::new().with_roots(root.path().join("sys"), root.path().join("dev"));
    let Fetched::Skipped(why) = t.fetch().unwrap() else {
        panic!()
    };
    assert_eq!(why, "no CD-ROM drive");
}

#[test]
fn drive_without_iso_medium_is_skipped_without_mounting() {
    let dir = tempfile::tempdir().unwrap();
    let blank = dir.path().join("blank.img");
    std::fs::write(&blank, vec![0u8; 64 * 1024]).unwrap();
    let missing = dir.path().join("sr9");
    let t = IsoTransport::new()
        .with_devices(vec![blank.clone(), missing])
        .with_mount_base(dir.path());
    let Fetched::Skipped(why) = t.fetch().unwrap() else {
        panic!()
    };
    assert!(
        why.contains(&format!("{}: not ISO 9660", blank.display())),
        "{why}"
    );
    assert!(why.contains("sr9: No such file"), "{why}");
}

#[test]
#[ignore = "needs xorriso: builds a real ISO 9660 image"]
fn labelled_medium_that_cannot_be_mounted_is_an_error_and_leaves_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    let image = make_iso(dir.path(), "OVF ENV", &[("ovf-env.xml", b"<Environment/>")]);
    let base = dir.path().join("mounts");
    std::fs::create_dir(&base).unwrap();
    // A regular file is no block device: mount(2) refuses it (ENOTBLK, or
    // EPERM/ENODEV where mounting is not possible at all).
    let t = IsoTransport::new()
        .with_devices(vec![image.clone()])
        .with_mount_base(&base);
    let err = t.fetch().unwrap_err();
    assert!(
        matches!(&err, TransportError::Mount { device, .. } if device == &image),
        "{err:?}"
    );
    assert!(err.to_string().starts_with(&format!(
        "cannot mount {} (iso9660, read-only): ",
        image.display()
    )));
    assert!(entries(&base).is_empty());
}

#[test]
fn document_names_on_the_medium_are_found_and_symlinks_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(find_document(dir.path()).is_none());
    std::fs::write(dir.path().join("OVF_ENV.XML"), b"<Environment/>").unwrap();
    assert_eq!(
        find_document(dir.path()).unwrap().unwrap(),
        b"<Environment/>"
    );
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("ovf-env.xml")).unwrap();
    assert!(matches!(
        find_document(dir.path()),
        Some(Err(TransportError::Read { .. }))
    ));
}

#[test]
#[ignore = "needs root, iso9660 loop mounts (losetup) and xorriso"]
fn real_iso_on_a_loop_device_is_mounted_read_and_cleaned_up() {
    if let Some(why) = cannot_mount("iso9660") {
        panic!("needs root and iso9660 loop mounts: {why}");
    }
    let dir = tempfile::tempdir().unwrap();
    let image = make_iso(dir.path(), "OVF ENV", &[("ovf-env.xml", b"<Environment/>")]);
    let device = Loop::attach(&image);
    let base = dir.path().join("mounts");
    std::fs::create_dir(&base).unwrap();
    let t = IsoTransport::new()
        .with_devices(vec![device.0.clone()])
        .with_mount_base(&base);
    let Fetched::Found(delivery) = t.fetch().unwrap() else {
        panic!()
    };
    assert_eq!(delivery.document.unwrap().expose(), b"<Environment/>");
    assert_eq!(delivery.origin, device.0.display().to_string());
    assert!(entries(&base).is_empty());
}

/// The mount guard with a real loop mount. ext2, because this sandbox's kernel
/// lacks iso9660 (the guard does not care which file system it mounts).
#[test]
#[ignore = "needs root, ext2 loop mounts (losetup) and mkfs.ext2"]
fn mount_guard_unmounts_and_removes_its_directory_on_success_error_and_panic() {
    if let Some(why) = cannot_mount("ext2") {
        panic!("needs root and ext2 loop mounts: {why}");
    }
    assert!(
        have("mkfs.ext2"),
        "needs mkfs.ext2 (e2fsprogs): it is not installed"
    );
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    std::fs::create_dir(&content).unwrap();
    std::fs::write(content.join("ovf-env.xml"), b"<Environment/>").unwrap();
    let image = dir.path().join("fs.img");
    let status = Command::new("mkfs.ext2")
        .args(["-q", "-F", "-d"])
        .arg(&content)
        .arg(&image)
        .arg("1M")
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "mkfs.ext2: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let device = Loop::attach(&image);
    let base = dir.path().join("mounts");
    std::fs::create_dir(&base).unwrap();

    let mut seen = PathBuf::new();
    let read = with_read_only_mount(&device.0, "ext2", &base, |mounted| {
        seen = mounted.to_owned();
        assert!(is_mounted(mounted));
        find_document(mounted)
    })
    .unwrap();
    assert_eq!(read.unwrap().unwrap(), b"<Environment/>");
    assert!(!is_mounted(&seen) && !seen.exists());

    let failed: Result<(), &str> = with_read_only_mount(&device.0, "ext2", &base, |m| {
        seen = m.to_owned();
        Err("reader failed")
    })
    .unwrap();
    assert!(failed.is_err() && !is_mounted(&seen) && !seen.exists());

    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        with_read_only_mount(&device.0, "ext2", &base, |m| {
            seen = m.to_owned();
            panic!("reader panicked")
        })
    }));
    assert!(panicked.is_err() && !is_mounted(&seen) && !seen.exists());

    // Mount refused (wrong file system): the directory is gone too.
    assert!(with_read_only_mount(&device.0, "xfs", &base, |_| ()).is_err());
    assert!(entries(&base).is_empty());
}

#[test]
fn private_mount_directory_has_mode_0700() {
    let base = tempfile::tempdir().unwrap();
    let dir = private_mount_dir(base.path()).unwrap();
    let meta = std::fs::metadata(dir.path()).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
    assert_eq!(dir.path().parent(), Some(base.path()));
}

#[test]
fn failed_mount_leaves_no_directory() {
    let base = tempfile::tempdir().unwrap();
    assert!(
        with_read_only_mount(
            Path::new("/nonexistent/device"),
            "iso9660",
            base.path(),
            |_| ()
        )
        .is_err()
    );
    assert!(entries(base.path()).is_empty());
}
