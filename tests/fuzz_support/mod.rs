//! A small mutation fuzzer that runs on stable Rust inside `cargo test`
//! (`cargo fuzz` needs nightly): each target is a function of bytes that
//! panics when an invariant breaks. A run replays the target's corpus
//! (`tests/fuzz/corpus/<target>/`, small inputs of our own) and its
//! regressions (`tests/fuzz/regressions/<target>/`, every crash found so
//! far), then mutates corpus entries for `OVABOOT_FUZZ_SECS` seconds (2 by
//! default) from a seed it prints (`OVABOOT_FUZZ_SEED` replays one). There is
//! no coverage feedback: the mutations are byte flips, insertions, deletions,
//! splices and the target's own dictionary of tokens.
//!
//! A crash is shrunk, written to `target/fuzz-crashes/<target>/`, and fails
//! the test naming the file: fix the code, then move the file into the
//! target's `regressions/` folder, named for what it shows, so that it is
//! replayed on every run.

pub mod targets;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

/// A fuzz target: panics when an invariant breaks.
pub type Target = fn(&[u8]);

/// How long each target is fuzzed when `OVABOOT_FUZZ_SECS` is not set.
const DEFAULT_SECS: u64 = 2;

/// At most this many bytes are fed to a target (the parsers cap their own
/// inputs far above; small inputs mutate faster).
const MAX_INPUT: usize = 16 * 1024;

thread_local! {
    /// While set, a panic is expected (the fuzzer catches it): not printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// splitmix64: small, fast, and the same sequence for the same seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The files of `dir`, sorted by name (none if it does not exist).
pub fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
}

/// Runs `target` on `input`; the panic's message if it panicked.
fn crashes(target: Target, input: &[u8]) -> Option<String> {
    install_quiet_hook();
    QUIET.with(|q| q.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(|| target(input)));
    QUIET.with(|q| q.set(false));
    outcome.err().map(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

/// The default hook, silent while [`QUIET`] is set on the panicking thread.
fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                default(info);
            }
        }));
    });
}

/// One random change to `input`: a bit flipped, a byte set, bytes inserted
/// or removed, a run repeated, a token of `dictionary` inserted, or a piece
/// of another corpus entry spliced in.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, dictionary: &[&str], corpus: &[Vec<u8>]) {
    let at = |rng: &mut Rng, len: usize| rng.below(len + 1);
    match rng.below(8) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] ^= 1 << rng.below(8);
        }
        1 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] = rng.next() as u8;
        }
        2 => {
            let i = at(rng, input.len());
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            input.splice(i..i, bytes);
        }
        3 if !input.is_empty() => {
            let i = rng.below(input.len());
            let n = 1 + rng.below((input.len() - i).min(64));
            input.drain(i..i + n);
        }
        4 if !input.is_empty() => {
            let i = rng.below(input.len());
            let n = 1 + rng.below((input.len() - i).min(32));
            let run = input[i..i + n].to_vec();
            let times = 1 + rng.below(4);
            let j = at(rng, input.len());
            for _ in 0..times {
                input.splice(j..j, run.iter().copied());
            }
        }
        5 | 6 if !dictionary.is_empty() => {
            let token = dictionary[rng.below(dictionary.len())].as_bytes();
            let i = at(rng, input.len());
            input.splice(i..i, token.iter().copied());
        }
        _ if !corpus.is_empty() => {
            let other = &corpus[rng.below(corpus.len())];
            if other.is_empty() {
                return;
            }
            let from = rng.below(other.len());
            let n = 1 + rng.below((other.len() - from).min(256));
            let i = at(rng, input.len());
            input.splice(i..i, other[from..from + n].iter().copied());
        }
        _ => input.push(rng.next() as u8),
    }
    input.truncate(MAX_INPUT);
}

/// `input` made as small as removing runs of bytes keeps it crashing.
fn shrink(target: Target, mut input: Vec<u8>) -> Vec<u8> {
    let mut tries = 0;
    let mut chunk = input.len().div_ceil(2).max(1);
    while chunk >= 1 && tries < 4000 {
        let mut at = 0;
        while at < input.len() && tries < 4000 {
            let end = (at + chunk).min(input.len());
            let mut smaller = input.clone();
            smaller.drain(at..end);
            tries += 1;
            if crashes(target, &smaller).is_some() {
                input = smaller;
            } else {
                at = end;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk /= 2;
    }
    input
}

/// Where a crash is written: `target/fuzz-crashes/<name>/<hash>`.
fn save_crash(name: &str, input: &[u8]) -> PathBuf {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target_dir.join("fuzz-crashes").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    // FNV-1a: a stable name for the same input.
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("crash-{hash:016x}"));
    std::fs::write(&path, input).unwrap();
    path
}

/// Saves the shrunk `input` and fails with its own panic message.
fn fail(name: &str, target: Target, input: &[u8], how: &str) -> ! {
    let input = shrink(target, input.to_vec());
    let message = crashes(target, &input).unwrap_or_else(|| "(no longer crashes)".into());
    let input = &input[..];
    let path = save_crash(name, input);
    panic!(
        "fuzz target {name} crashed ({how}): {message}\n  input ({} bytes, {:?}) saved at {}\n  fix the code, then move the file into tests/fuzz/regressions/{name}/ named for what it shows",
        input.len(),
        String::from_utf8_lossy(&input[..input.len().min(200)]),
        path.display()
    );
}

/// The seconds and seed of this run (`OVABOOT_FUZZ_SECS`, `OVABOOT_FUZZ_SEED`).
fn budget() -> (Duration, u64) {
    let secs = std::env::var("OVABOOT_FUZZ_SECS")
        .ok()
        .map(|s| s.parse().expect("OVABOOT_FUZZ_SECS is a number of seconds"))
        .unwrap_or(DEFAULT_SECS);
    let seed = std::env::var("OVABOOT_FUZZ_SEED")
        .ok()
        .map(|s| s.parse().expect("OVABOOT_FUZZ_SEED is a number"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    (Duration::from_secs(secs), seed)
}

/// Replays `name`'s regressions and corpus (plus `extra` seed folders), then
/// fuzzes it for the run's budget. Panics on the first crash, after saving
/// it shrunk.
pub fn run(name: &str, target: Target, dictionary: &[&str], extra: &[&Path]) {
    let dir = fuzz_dir();
    for (path, input) in inputs(&dir.join("regressions").join(name)) {
        if let Some(message) = crashes(target, &input) {
            panic!("regression {} crashes again: {message}", path.display());
        }
    }
    let mut corpus: Vec<Vec<u8>> = inputs(&dir.join("corpus").join(name))
        .into_iter()
        .chain(extra.iter().flat_map(|d| inputs(d)))
        .map(|(_, bytes)| bytes)
        .collect();
    assert!(!corpus.is_empty(), "no corpus for {name}");
    for input in &corpus {
        if crashes(target, input).is_some() {
            fail(name, target, input, "corpus entry");
        }
    }
    corpus.push(Vec::new());
    let (time, seed) = budget();
    let mut rng = Rng::new(seed ^ fnv(name));
    let deadline = Instant::now() + time;
    let mut runs = 0u64;
    while Instant::now() < deadline {
        let mut input = corpus[rng.below(corpus.len())].clone();
        for _ in 0..1 + rng.below(6) {
            mutate(&mut rng, &mut input, dictionary, &corpus);
        }
        runs += 1;
        if crashes(target, &input).is_some() {
            let seeded = format!("OVABOOT_FUZZ_SEED={seed}, run {runs}");
            fail(name, target, &input, &seeded);
        }
    }
    eprintln!(
        "fuzz {name}: {runs} inputs in {}s, seed {seed} (OVABOOT_FUZZ_SEED={seed} replays it), corpus {}",
        time.as_secs(),
        corpus.len() - 1
    );
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod engine_tests {
    use super::*;

    fn panics_on_xyz(input: &[u8]) {
        assert!(!input.windows(3).any(|w| w == b"xyz"), "found xyz");
    }

    #[test]
    fn a_crash_is_caught_and_shrunk_to_what_makes_it() {
        let input = b"aaaa bbbb xyz cccc dddd".to_vec();
        assert!(
            crashes(panics_on_xyz, &input)
                .unwrap()
                .contains("found xyz")
        );
        assert_eq!(shrink(panics_on_xyz, input), b"xyz");
        assert!(crashes(panics_on_xyz, b"abc").is_none());
    }
}
