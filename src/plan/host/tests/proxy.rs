//! The proxy environment file and the drop-ins that name it.

use super::*;

const DEFAULT_DROPIN: &str = "# Written by ovaboot on first boot: the proxy settings from guestinfo.http_proxy,\n\
    # guestinfo.https_proxy and guestinfo.no_proxy are in /etc/ovaboot/proxy.env.\n\
    [Service]\n\
    EnvironmentFile=/etc/ovaboot/proxy.env\n";

/// What a real POSIX shell reads from `env_file`: `NAME=value` for each name.
fn source_in_sh(env_file: &str, names: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy.env");
    std::fs::write(&path, env_file).unwrap();
    let script = names
        .iter()
        .map(|n| format!("printf '%s\\n' \"{n}=${n}\""))
        .collect::<Vec<_>>()
        .join("; ");
    let out = std::process::Command::new("sh")
        .args(["-c", &format!(". \"$0\"; {script}")])
        .arg(&path)
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn proxy_env_file_and_a_dropin_naming_it_for_each_unit() {
    let p = proxy(&[
        ("guestinfo.http_proxy", "http://proxy.example.com:3128"),
        ("guestinfo.https_proxy", "http://proxy.example.com:3128"),
        (
            "guestinfo.no_proxy",
            ".lab.example.com,10.0.0.0/8, localhost",
        ),
    ]);
    let config = HostConfig {
        proxy_units: vec!["k3s.service".into(), "containerd.service".into()],
        ..HostConfig::default()
    };
    let files = plan(&full_static(), Some(&p), DEBIAN, &config).unwrap();
    let paths: Vec<_> = files.iter().map(|f| f.path.to_str().unwrap()).collect();
    assert_eq!(
        paths[4..],
        [
            "/etc/ovaboot/proxy.env",
            "/etc/systemd/system/k3s.service.d/ovaboot-proxy.conf",
            "/etc/systemd/system/containerd.service.d/ovaboot-proxy.conf",
        ],
        "the file before the drop-ins that name it"
    );
    let env = find(&files, "/etc/ovaboot/proxy.env");
    assert_eq!(
        text(env),
        "# Written by ovaboot on first boot from guestinfo.http_proxy,\n\
         # guestinfo.https_proxy and guestinfo.no_proxy. systemd EnvironmentFile=\n\
         # syntax, also valid POSIX sh.\n\
         HTTP_PROXY=\"http://proxy.example.com:3128\"\n\
         http_proxy=\"http://proxy.example.com:3128\"\n\
         HTTPS_PROXY=\"http://proxy.example.com:3128\"\n\
         https_proxy=\"http://proxy.example.com:3128\"\n\
         NO_PROXY=\".lab.example.com,10.0.0.0/8,localhost,127.0.0.0/8,10.42.0.0/16,10.43.0.0/16,.svc,.cluster.local,veba01.lab.example.com,192.168.10.20\"\n\
         no_proxy=\".lab.example.com,10.0.0.0/8,localhost,127.0.0.0/8,10.42.0.0/16,10.43.0.0/16,.svc,.cluster.local,veba01.lab.example.com,192.168.10.20\"\n"
    );
    // No credentials: readable by all, like the rest of /etc.
    assert_eq!(env.mode, 0o644);
    assert!(!env.contents.is_secret());
    for unit in ["k3s.service", "containerd.service"] {
        let f = find(
            &files,
            &format!("/etc/systemd/system/{unit}.d/ovaboot-proxy.conf"),
        );
        assert_eq!(text(f), DEFAULT_DROPIN);
        assert_eq!(f.mode, 0o644);
        assert!(!f.contents.is_secret());
    }
}

#[test]
fn proxy_credentials_go_only_to_a_root_only_env_file_never_into_a_dropin() {
    let p = proxy(&[(
        "guestinfo.https_proxy",
        "http://svc-veba:S3cr%40t@proxy:3128",
    )]);
    let files = plan(
        &NetworkSettings::default(),
        Some(&p),
        "",
        &HostConfig::default(),
    )
    .unwrap();
    let env = find(&files, "/etc/ovaboot/proxy.env");
    assert_eq!(env.mode, 0o600);
    assert!(matches!(env.contents, FileContents::Secret(_)));
    let t = text(env);
    // '%' is no specifier in an environment file: written as it is.
    assert!(
        t.contains("\nHTTPS_PROXY=\"http://svc-veba:S3cr%40t@proxy:3128\"\n"),
        "{t}"
    );
    assert!(!t.contains("HTTP_PROXY="), "only what was set");
    // With DHCP there is no static address to add; the FQDN is still there.
    assert!(t.contains(",.cluster.local,veba01.lab.example.com\"\n"));

    // systemd shows a unit's Environment= to any local user over D-Bus, so the
    // drop-in must hold no part of the proxy at all, only the file's path.
    let dropin = find(
        &files,
        "/etc/systemd/system/k3s.service.d/ovaboot-proxy.conf",
    );
    assert_eq!(text(dropin), DEFAULT_DROPIN);
    assert_eq!(dropin.mode, 0o644);
    assert!(!dropin.contents.is_secret());
    for file in files.iter().filter(|f| !f.is_absent()) {
        if file.path != Path::new("/etc/ovaboot/proxy.env") {
            let t = text(file);
            assert!(!t.contains("S3cr") && !t.contains("svc-veba"), "{t}");
            assert!(!t.contains("Environment="), "{t}");
        }
    }
    let debug = format!("{files:?}");
    assert!(!debug.contains("S3cr"), "{debug}");
}

#[test]
fn no_proxy_takes_back_every_units_dropin_then_the_env_file() {
    let config = HostConfig {
        proxy_units: vec!["k3s.service".into(), "containerd.service".into()],
        proxy_env_file: "/run/ovaboot/proxy-v2.env".into(),
        ..HostConfig::default()
    };
    let files = plan(&full_static(), None, DEBIAN, &config).unwrap();
    let paths: Vec<_> = files.iter().map(|f| f.path.to_str().unwrap()).collect();
    assert_eq!(
        paths[4..],
        [
            "/etc/systemd/system/k3s.service.d/ovaboot-proxy.conf",
            "/etc/systemd/system/containerd.service.d/ovaboot-proxy.conf",
            "/run/ovaboot/proxy-v2.env",
        ],
        "drop-ins removed before the file they name, so no unit names a missing one"
    );
    assert!(files[4..].iter().all(PlannedFile::is_absent));
}

#[test]
fn proxy_env_file_path_is_configurable() {
    let p = proxy(&[("guestinfo.http_proxy", "http://u:pw@proxy:3128")]);
    let config = HostConfig {
        proxy_env_file: "/run/ovaboot/proxy-v2.env".into(),
        ..HostConfig::default()
    };
    let files = plan(&NetworkSettings::default(), Some(&p), "", &config).unwrap();
    assert_eq!(find(&files, "/run/ovaboot/proxy-v2.env").mode, 0o600);
    assert!(
        text(find(
            &files,
            "/etc/systemd/system/k3s.service.d/ovaboot-proxy.conf"
        ))
        .ends_with("[Service]\nEnvironmentFile=/run/ovaboot/proxy-v2.env\n")
    );
    assert!(
        !files
            .iter()
            .any(|f| f.path == Path::new("/etc/ovaboot/proxy.env"))
    );
}

#[test]
fn env_file_quoting() {
    let line = |value: &str| {
        let mut out = String::new();
        push_env_file_line(&mut out, "A", value);
        out
    };
    assert_eq!(line("plain"), "A=\"plain\"\n");
    assert_eq!(line("100%"), "A=\"100%\"\n", "no specifiers in an env file");
    assert_eq!(line("%n%%"), "A=\"%n%%\"\n");
    assert_eq!(line(r"C:\dir"), "A=\"C:\\\\dir\"\n");
    assert_eq!(line(r#"say "hi""#), "A=\"say \\\"hi\\\"\"\n");
    assert_eq!(line("$HOME `id`"), "A=\"\\$HOME \\`id\\`\"\n");
    assert_eq!(line("it's # no comment"), "A=\"it's # no comment\"\n");
}

#[test]
fn env_file_reads_back_exactly_in_a_real_shell() {
    // Every character a proxy password may hold that a shell or systemd could
    // read specially (RFC 3986 sub-delims, '%'), and then some.
    let nasty = r#"a$b`c"d\e'f%40g!h&i(j)k*l+m,n;o=p:q #r ${HOME} %n"#;
    let mut file = String::new();
    push_env_file_line(&mut file, "NASTY", nasty);
    push_env_file_line(&mut file, "EMPTY", "");
    assert_eq!(
        source_in_sh(&file, &["NASTY", "EMPTY"]),
        [format!("NASTY={nasty}"), "EMPTY=".to_string()]
    );

    // And a whole planned file, a password with '$', ''' and '%' included.
    let url = "http://svc:p$a'ss%40w@proxy.example.com:3128";
    let p = proxy(&[("guestinfo.http_proxy", url)]);
    let files = plan(
        &NetworkSettings::default(),
        Some(&p),
        "",
        &HostConfig::default(),
    )
    .unwrap();
    let read = source_in_sh(
        text(find(&files, "/etc/ovaboot/proxy.env")),
        &["HTTP_PROXY", "http_proxy", "HTTPS_PROXY"],
    );
    assert_eq!(
        read,
        [
            format!("HTTP_PROXY={url}"),
            format!("http_proxy={url}"),
            "HTTPS_PROXY=".to_string()
        ]
    );
}
