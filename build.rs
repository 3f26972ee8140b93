//! Build-time outputs: the commit `ovaboot --version` names, and the man pages
//! and shell completions of the Debian package, generated from the clap
//! definitions in src/cli.rs so they never drift from the real command line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs, io};

use clap_complete::Shell;

#[allow(dead_code)] // build.rs uses the definitions, not the parsed values
#[path = "src/cli.rs"]
mod cli;

fn main() -> io::Result<()> {
    println!("cargo:rerun-if-changed=src/cli.rs");
    let commit = commit();
    println!("cargo:rustc-env=OVABOOT_COMMIT={commit}");

    let version = format!("{} (commit {commit})", env!("CARGO_PKG_VERSION"));
    let mut command = cli::command(Box::leak(version.into_boxed_str()));
    command.build();
    let out = generated_dir();
    write_man_pages(&command, &out.join("man"))?;
    write_completions(&mut command, &out.join("completions"))
}

/// Where the package's generated files go: `target/<profile>/generated/`.
/// cargo-deb takes assets from `target/release/...` (mapped onto the real
/// target directory) but cannot see OUT_DIR, which is
/// `target/<profile>/build/ovaboot-<hash>/out`; its own example writes three
/// levels up the same way.
fn generated_dir() -> PathBuf {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    out_dir
        .ancestors()
        .nth(3)
        .expect("OUT_DIR is target/<profile>/build/<crate>-<hash>/out")
        .join("generated")
}

/// `ovaboot(8)` and `ovaboot-<subcommand>(8)`: it is a system service's tool.
fn write_man_pages(command: &clap::Command, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut pages = vec![(command.get_name().to_owned(), command.clone())];
    // `help` is clap's own; ovaboot(8) covers it.
    for sub in command
        .get_subcommands()
        .filter(|sub| sub.get_name() != "help")
    {
        let name = format!("{}-{}", command.get_name(), sub.get_name());
        pages.push((name, sub.clone()));
    }
    for (name, page) in pages {
        let mut text = Vec::new();
        clap_mangen::Man::new(page)
            .title(name.to_uppercase())
            .section("8")
            .source(format!("ovaboot {}", env!("CARGO_PKG_VERSION")))
            .manual("System Administration")
            .render(&mut text)?;
        write_if_changed(&dir.join(format!("{name}.8.gz")), &gzip(&text)?)?;
    }
    Ok(())
}

/// Best compression and no timestamp in the header: the same page, the same bytes.
fn gzip(text: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    encoder.write_all(text)?;
    encoder.finish()
}

/// bash, zsh and fish completions, named as each shell looks them up.
fn write_completions(command: &mut clap::Command, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut text = Vec::new();
        clap_complete::generate(shell, command, "ovaboot", &mut text);
        let file = match shell {
            Shell::Zsh => "_ovaboot",
            Shell::Fish => "ovaboot.fish",
            _ => "ovaboot",
        };
        write_if_changed(&dir.join(file), &text)?;
    }
    Ok(())
}

/// Keeps the file's mtime when nothing changed (no needless repackaging).
fn write_if_changed(path: &Path, text: &[u8]) -> io::Result<()> {
    if fs::read(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    fs::write(path, text)
}

/// The commit being built: from git when building in a checkout, else
/// `OVABOOT_COMMIT` (a source tarball's builder sets it), else "unknown".
fn commit() -> String {
    println!("cargo:rerun-if-env-changed=OVABOOT_COMMIT");
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => {
            // Rebuild when HEAD moves: a commit, a checkout, a new branch tip.
            for file in ["HEAD", "packed-refs"] {
                watch_git_path(file);
            }
            if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watch_git_path(&reference);
            }
            commit
        }
        None => env::var("OVABOOT_COMMIT").unwrap_or_else(|_| "unknown".to_owned()),
    }
}

fn watch_git_path(name: &str) {
    if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", name])
        && Path::new(&path).exists()
    {
        println!("cargo:rerun-if-changed={path}");
    }
}

/// One line of git's output, or `None` outside a checkout or without git.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(env::var_os("CARGO_MANIFEST_DIR")?)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let line = text.trim();
    (output.status.success() && !line.is_empty()).then(|| line.to_owned())
}
