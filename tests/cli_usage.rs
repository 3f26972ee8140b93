//! The command line as a newcomer meets it: a usage error is one line (with
//! where to read more) and exit 2, like every other error; each command's
//! help says what that command does.

mod cli_support;

use cli_support::{ovaboot, text};

#[test]
fn a_usage_error_is_one_line_naming_the_commands_help_exit_2() {
    for (args, line) in [
        (
            &["props", "--foo"][..],
            "ovaboot: error: unexpected argument '--foo' found; see 'ovaboot props --help'",
        ),
        (
            &["render"][..],
            "ovaboot: error: the following required arguments were not provided: --out <DIR>; see 'ovaboot render --help'",
        ),
        (
            &["reconfigure", "--phase", "bad"][..],
            "ovaboot: error: invalid value 'bad' for '--phase <PHASE>' [possible values: host, cluster, all]; see 'ovaboot reconfigure --help'",
        ),
        (
            &["bogus"][..],
            "ovaboot: error: unrecognized subcommand 'bogus'; see 'ovaboot --help'",
        ),
    ] {
        let out = ovaboot(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(text(&out.stderr), format!("{line}\n"), "{args:?}");
    }
}

#[test]
fn help_and_version_still_print_in_full_and_succeed() {
    let out = ovaboot(&["props", "--help"]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("--config <FILE>"),
        "props takes --config"
    );
    let out = ovaboot(&["--version"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("ovaboot "));
}

#[test]
fn reconfigure_help_says_what_day_2_does_and_never_the_routes() {
    let out = ovaboot(&["reconfigure", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for says in [
        "renew the xDS certificates when due",
        "The xDS certificates and their Secrets, when due; then the TLS pair and its Secret, if the certificate changed",
    ] {
        assert!(help.contains(says), "{help}");
    }
    assert!(!help.contains("routes"), "{help}");
    // First boot's own help still says its cluster phase applies them.
    let firstboot = text(&ovaboot(&["firstboot", "--help"]).stdout);
    assert!(
        firstboot.contains("Contour, the TLS Secret and the routes"),
        "{firstboot}"
    );
}
