//! One cut boot: `vm.sh cut` boots with the disk's writes throttled and
//! ovaboot's writes traced on the serial console, and kills QEMU (SIGKILL) a
//! chosen time after a console line; this reads back what the boot left and
//! where the cut fell among ovaboot's writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::vm_support::{Guest, VmSlot, vm_sh, vm_sh_args, work_dir};

/// What one ovaboot process did, as the kernel's tracepoints saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// An fsync began (a staged file, then the directories).
    FsyncEnter,
    FsyncExit,
    /// A rename (a staged file committed over its target).
    Rename,
    /// The process exited.
    Exit,
}

/// One traced event: when its console line reached the host (seconds on
/// the host's clock), which ovaboot process, what.
#[derive(Debug, Clone, Copy)]
pub struct Traced {
    pub at: f64,
    pub pid: u32,
    pub event: Event,
}

/// Where a cut fell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landed {
    /// No ovaboot process was between its first write and its exit: before
    /// ovaboot wrote anything, between two runs, or after the last.
    Outside,
    /// An ovaboot process had written and not exited (so its last write,
    /// the state record every run ends with, was still to come);
    /// `in_flight`: its last traced event was an fsync that had not returned.
    InsideWrites { in_flight: bool },
    /// The guest powered off before the instant: no cut.
    NotCut,
}

/// What a cut boot left.
pub struct Cut {
    pub name: String,
    pub dir: PathBuf,
    /// The serial console.
    pub console: String,
    /// The host's clock when QEMU was killed; none when the guest powered off first.
    pub at: Option<f64>,
    pub events: Vec<Traced>,
    /// The disk after the cut, its journal replayed as the next boot would.
    pub disk: crate::checks::Disk,
}

impl Cut {
    /// Where the cut fell among ovaboot's writes.
    pub fn landed(&self) -> Landed {
        let Some(at) = self.at else {
            return Landed::NotCut;
        };
        landed(&self.events, at)
    }

    /// The overlay the cut left, as the next boot's backing disk.
    pub fn overlay(&self) -> PathBuf {
        self.dir.join("overlay.qcow2")
    }
}

/// Where a cut at `at` fell among `events` (see [`Landed`]).
pub fn landed(events: &[Traced], at: f64) -> Landed {
    let mut by_pid: BTreeMap<u32, Vec<&Traced>> = BTreeMap::new();
    for e in events.iter().filter(|e| e.at <= at) {
        by_pid.entry(e.pid).or_default().push(e);
    }
    let running: Vec<&Vec<&Traced>> = by_pid
        .values()
        .filter(|seen| seen.iter().any(|e| e.event != Event::Exit))
        .filter(|seen| seen.iter().all(|e| e.event != Event::Exit))
        .collect();
    if running.is_empty() {
        return Landed::Outside;
    }
    let in_flight = running
        .iter()
        .any(|seen| seen.last().is_some_and(|e| e.event == Event::FsyncEnter));
    Landed::InsideWrites { in_flight }
}

/// Boots an overlay of `backing` as [`crate::vm_support::boot`] does, with
/// the disk's writes limited to `iops_write` requests a second, and cuts the
/// power `delay_ms` after the first console line containing `trigger`.
pub fn cut(
    name: &str,
    backing: &Path,
    guest: &Guest,
    trigger: &str,
    delay_ms: u64,
    iops_write: u32,
) -> Cut {
    let _slot = VmSlot::take();
    let dir = work_dir(&format!("appliance-{name}"));
    let mut args = vm_sh_args("cut", backing, &dir, guest);
    args.extend([
        "--trigger".to_owned(),
        trigger.to_owned(),
        "--delay-ms".to_owned(),
        delay_ms.to_string(),
        "--iops-write".to_owned(),
        iops_write.to_string(),
    ]);
    let status = vm_sh(&args);
    let console = std::fs::read_to_string(dir.join("serial.log"))
        .unwrap_or_default()
        .replace('\r', "");
    assert!(
        status.success(),
        "{name}: vm.sh cut failed ({status}; 3 = {trigger:?} never showed, \
         124 = the VM timed out); console:\n{console}"
    );
    let times = std::fs::read_to_string(dir.join("serial.times")).unwrap_or_default();
    let at = std::fs::read_to_string(dir.join("cut.at"))
        .ok()
        .map(|t| t.trim().parse().expect("cut.at holds the host's clock"));
    let disk = crate::checks::Disk::read(&dir.join("disk"));
    // What was read from it is in disk/; the overlay stays for the next boot.
    let _ = std::fs::remove_file(dir.join("after.raw"));
    Cut {
        name: name.to_owned(),
        dir,
        console,
        at,
        events: parse_trace(&times),
        disk,
    }
}

/// The `@@trace` lines of `serial.times` ("SECONDS LINE"), e.g.
/// `1796675164.70 @@trace  ovaboot-319  [000] ...1.  44.29: sys_fsync(fd: 3)`.
pub fn parse_trace(times: &str) -> Vec<Traced> {
    times
        .lines()
        .filter_map(|line| {
            let (at, rest) = line.trim_end_matches('\r').split_once(' ')?;
            let (_, trace) = rest.split_once("@@trace ")?;
            let task = trace.split_whitespace().next()?;
            let pid = task.rsplit_once('-')?.1.parse().ok()?;
            let (_, what) = trace.split_once(": ")?;
            let event = if what.starts_with("sys_fsync(") {
                Event::FsyncEnter
            } else if what.starts_with("sys_fsync ->") {
                Event::FsyncExit
            } else if what.starts_with("sys_rename") {
                Event::Rename
            } else if what.starts_with("sched_process_exit") {
                Event::Exit
            } else {
                return None;
            };
            Some(Traced {
                at: at.parse().ok()?,
                pid,
                event,
            })
        })
        .collect()
}

#[test]
fn trace_lines_parse_and_a_cut_is_placed_among_the_writes() {
    let times = "\
10.0 [ 1.0] systemd[1]: Starting ovaboot-host.service...
11.0 @@trace          ovaboot-319     [000] ...1.    39.19: sys_fsync(fd: 3)
12.0 @@trace          ovaboot-319     [000] ...1.    43.42: sys_fsync -> 0x0
12.5 @@trace          ovaboot-319     [000] ...1.    44.29: sys_rename(oldname: 7ffe, newname: 7ffe)
13.0 @@trace          ovaboot-319     [000] d..2.    44.30: sched_process_exit: comm=ovaboot pid=319 prio=120
20.0 @@trace          ovaboot-366     [000] ...1.    50.00: sys_fsync(fd: 3)
";
    let events = parse_trace(times);
    assert_eq!(events.len(), 5);
    assert_eq!(events[0].pid, 319);
    assert_eq!(events[2].event, Event::Rename);
    assert_eq!(events[3].event, Event::Exit);
    assert_eq!(landed(&events, 10.5), Landed::Outside);
    assert_eq!(
        landed(&events, 11.5),
        Landed::InsideWrites { in_flight: true }
    );
    assert_eq!(
        landed(&events, 12.7),
        Landed::InsideWrites { in_flight: false }
    );
    assert_eq!(landed(&events, 15.0), Landed::Outside);
    assert_eq!(
        landed(&events, 25.0),
        Landed::InsideWrites { in_flight: true }
    );
}
