//! Build-time outputs: the commit `ovaboot --version` names, and the man pages
//! and shell completions of the Debian package, generated from the clap
//! definitions in src/cli.rs so they never drift from the real command line.
//! The man pages also carry what `--help` does not say, from
//! build/man_pages.rs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs, io};

use clap_complete::Shell;
use clap_mangen::roff::{Roff, bold, italic, roman};

#[allow(dead_code)] // build.rs uses the definitions, not the parsed values
#[path = "src/cli.rs"]
mod cli;

#[path = "build/man_pages.rs"]
mod man_pages;

fn main() -> io::Result<()> {
    println!("cargo:rerun-if-changed=src/cli.rs");
    let commit = commit();
    println!("cargo:rustc-env=OVABOOT_COMMIT={commit}");

    let version: &'static str =
        Box::leak(format!("{} (commit {commit})", env!("CARGO_PKG_VERSION")).into_boxed_str());
    let out = generated_dir();
    // clap's `help` subcommand has no page of its own: ovaboot(8) covers it.
    let mut pages = cli::command(version).disable_help_subcommand(true);
    pages.build();
    write_man_pages(&pages, &out.join("man"))?;
    let mut command = cli::command(version);
    command.build();
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
    for sub in command.get_subcommands() {
        let name = format!("{}-{}", command.get_name(), sub.get_name());
        pages.push((name, sub.clone()));
    }
    let names: Vec<&str> = pages.iter().map(|(name, _)| name.as_str()).collect();
    check_extra_text(&names);
    for (name, page) in &pages {
        let extra = man_pages::PAGES
            .iter()
            .find(|extra| extra.name == name)
            .expect("checked above");
        let man = clap_mangen::Man::new(page.clone())
            .title(name.to_uppercase())
            .section("8")
            .source(format!("ovaboot {}", env!("CARGO_PKG_VERSION")))
            .manual("System Administration");
        write_if_changed(
            &dir.join(format!("{name}.8.gz")),
            &gzip(&man_page(&man, page, extra)?)?,
        )?;
    }
    Ok(())
}

/// Every command has its extra text and every extra text a command, and SEE
/// ALSO names only pages that exist: ours, or systemd's (a dependency).
fn check_extra_text(names: &[&str]) {
    for name in names {
        assert!(
            man_pages::PAGES.iter().any(|page| page.name == *name),
            "build/man_pages.rs has no page for {name}"
        );
    }
    for page in man_pages::PAGES {
        assert!(
            names.contains(&page.name),
            "build/man_pages.rs: {} is not a command's page",
            page.name
        );
        for reference in page.see_also {
            let ours = reference
                .strip_suffix("(8)")
                .is_some_and(|name| names.contains(&name) && name != page.name);
            assert!(
                ours || man_pages::SYSTEM_PAGES.contains(reference),
                "build/man_pages.rs: {}'s SEE ALSO names {reference}, which is not installed",
                page.name
            );
        }
    }
}

/// clap_mangen's sections in man-pages(7) order, with the extra ones between
/// them: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, (SUBCOMMANDS,) EXIT STATUS,
/// ENVIRONMENT, FILES, (VERSION,) EXAMPLES, SEE ALSO.
fn man_page(
    man: &clap_mangen::Man,
    command: &clap::Command,
    extra: &man_pages::Page,
) -> io::Result<Vec<u8>> {
    use clap_mangen::Man;
    let mut page = Vec::new();
    append_clap(&mut page, man, Man::render_title)?;
    append_clap(&mut page, man, Man::render_name_section)?;
    append_clap(&mut page, man, Man::render_synopsis_section)?;
    append_clap(&mut page, man, Man::render_description_section)?;
    let mut description = Roff::new();
    for paragraph in extra.description {
        description.control("PP", NO_ARGS).text([roman(*paragraph)]);
    }
    append_roff(&mut page, &description);
    if command.get_arguments().any(|arg| !arg.is_hide_set()) {
        append_clap(&mut page, man, Man::render_options_section)?;
    }
    if command.has_subcommands() {
        append_clap(&mut page, man, Man::render_subcommands_section)?;
    }
    append_roff(&mut page, &status_environment_files(extra));
    if command.get_version().is_some() {
        append_clap(&mut page, man, Man::render_version_section)?;
    }
    append_roff(&mut page, &examples_see_also(extra));
    Ok(page)
}

const NO_ARGS: [&str; 0] = [];

fn status_environment_files(extra: &man_pages::Page) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for (status, meaning) in extra.exit_status {
        if status.is_empty() {
            roff.control("PP", NO_ARGS).text([roman(*meaning)]);
        } else {
            tagged(&mut roff, bold(*status), meaning);
        }
    }
    roff.control("SH", ["ENVIRONMENT"]);
    for (variable, meaning) in extra.environment {
        tagged(&mut roff, bold(*variable), meaning);
    }
    roff.control("SH", ["FILES"]);
    for (path, meaning) in extra.files {
        tagged(&mut roff, italic(*path), meaning);
    }
    roff
}

fn examples_see_also(extra: &man_pages::Page) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXAMPLES"]);
    for (what, lines) in extra.examples {
        roff.control("PP", NO_ARGS).text([roman(*what)]);
        roff.control("PP", NO_ARGS)
            .control("RS", ["4"])
            .control("nf", NO_ARGS);
        for line in lines.lines() {
            roff.text([bold(line)]);
        }
        roff.control("fi", NO_ARGS).control("RE", NO_ARGS);
    }
    roff.control("SH", ["SEE ALSO"]);
    // Page names are not to be hyphenated at a line's end.
    roff.control("nh", NO_ARGS);
    let mut references = Vec::new();
    for (i, reference) in extra.see_also.iter().enumerate() {
        let (name, section) = reference.split_once('(').expect("name(section)");
        let separator = if i + 1 < extra.see_also.len() {
            ", "
        } else {
            ""
        };
        references.push(bold(name));
        references.push(roman(format!("({section}{separator}")));
    }
    roff.text(references);
    roff
}

/// One `.TP` entry: the tag on its line, the text below it.
fn tagged(roff: &mut Roff, tag: clap_mangen::roff::Inline, text: &str) {
    roff.control("TP", NO_ARGS).text([tag]).text([roman(text)]);
}

/// Appends one of clap_mangen's sections.
fn append_clap(
    page: &mut Vec<u8>,
    man: &clap_mangen::Man,
    render: fn(&clap_mangen::Man, &mut dyn io::Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut text = Vec::new();
    render(man, &mut text)?;
    append(page, &text);
    Ok(())
}

/// Appends roff text made here.
fn append_roff(page: &mut Vec<u8>, roff: &Roff) {
    append(page, roff.render().as_bytes());
}

/// roff's output starts with a two-line preamble defining the apostrophe
/// string: a page needs it once, at the top.
fn append(page: &mut Vec<u8>, text: &[u8]) {
    let preamble = Roff::new().render();
    let text = match text.strip_prefix(preamble.as_bytes()) {
        Some(rest) if !page.is_empty() => rest,
        _ => text,
    };
    page.extend_from_slice(text);
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
