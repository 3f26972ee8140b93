//! Where first boot stands, as vSphere shows it: `guestinfo.ovaboot.status`,
//! `.url` and `.fingerprint`, set from the guest with the guestinfo RPC
//! `info-set guestinfo.KEY VALUE`, so `govc vm.info -e`, PowerCLI and the
//! vSphere client see them.
//!
//! Sent with open-vm-tools' `vmware-rpctool`: the `vmw_backdoor` crate (0.2)
//! that reads guestinfo offers `info-get` but no way to send another RPC.
//! Only on VMware (the guestinfo transport's detection); anywhere else, or
//! without `vmware-rpctool`, nothing is sent and nothing is said above debug
//! level. Publishing never fails a phase. Values are the state's public
//! parts: never a secret.

use std::path::Path;

use super::{State, Verdict, verdict};
use crate::ovf::transport::guestinfo::{Rpctool, on_vmware};

pub const STATUS_KEY: &str = "guestinfo.ovaboot.status";
pub const URL_KEY: &str = "guestinfo.ovaboot.url";
pub const FINGERPRINT_KEY: &str = "guestinfo.ovaboot.fingerprint";

/// Longest reason sent (an RPC message is limited to 64 KiB; a status line
/// in the vSphere client needs far less).
const MAX_REASON: usize = 1000;

/// The keys and values for `state`, recorded in the boot `boot_id` (pure):
/// status `running host`, `running cluster`, `done` or `failed: <reason>`.
pub fn values(state: &State, boot_id: Option<&str>) -> Vec<(&'static str, String)> {
    let completed = state.phase == super::Phase::Reconfigure
        || (state.phase == super::Phase::Cluster && state.outcome == super::Outcome::Done);
    let status = match verdict(Some(state), completed, boot_id) {
        // Day 2 failed on a cause that may pass (the timer's run): first
        // boot stands, as the banner says too.
        Verdict::Done
            if state.phase == super::Phase::Reconfigure
                && state.outcome == super::Outcome::Failed =>
        {
            let reason = state.error.as_deref().unwrap_or("see the journal");
            format!(
                "done; reconfigure failed, may pass by itself: {}",
                truncate(reason, MAX_REASON)
            )
        }
        Verdict::Done => {
            let notes: Vec<String> = [
                state.pending.as_ref().map(|p| format!("pending: {p}")),
                state.certificate_warning.clone(),
            ]
            .into_iter()
            .flatten()
            .collect();
            match notes.is_empty() {
                true => "done".to_owned(),
                false => format!("done; {}", truncate(&notes.join("; "), MAX_REASON)),
            }
        }
        Verdict::Failed(_) | Verdict::Stopped(_) => {
            let reason = state.error.as_deref().unwrap_or("see the journal");
            format!("failed: {}", truncate(reason, MAX_REASON))
        }
        Verdict::Running(phase)
        | Verdict::Waiting(phase)
        | Verdict::Interrupted(phase)
        | Verdict::Pending(phase) => format!("running {}", phase.as_str()),
        Verdict::NotRun => unreachable!("a state is given"),
    };
    let mut values = vec![(STATUS_KEY, status)];
    if let Some(url) = &state.url {
        values.push((URL_KEY, url.clone()));
    }
    if let Some(cert) = &state.certificate {
        values.push((FINGERPRINT_KEY, cert.sha256.clone()));
    }
    values
        .into_iter()
        .map(|(k, v)| (k, v.replace(|c: char| c.is_control(), " ")))
        .collect()
}

/// The RPC messages that publish `state` (pure; what `vmware-rpctool` is given).
pub fn rpcs(state: &State, boot_id: Option<&str>) -> Vec<String> {
    values(state, boot_id)
        .iter()
        .map(|(key, value)| crate::ovf::transport::guestinfo::info_set_rpc(key, value))
        .collect()
}

/// Publishes `state` on VMware with `vmware-rpctool`; elsewhere does nothing.
pub fn publish(state: &State) {
    if !on_vmware(Path::new("/")) {
        return;
    }
    let Some(rpctool) = Rpctool::find() else {
        tracing::debug!(
            "guestinfo.ovaboot.* not published: vmware-rpctool (open-vm-tools) is not installed"
        );
        return;
    };
    let boot_id = super::current_boot_id();
    for (key, value) in values(state, boot_id.as_deref()) {
        if let Err(e) = rpctool.set(key, &value) {
            tracing::debug!(key, error = %e, "guestinfo not published");
        }
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests;
