//! The host step's effect beyond files: the running kernel's host name.

use crate::plan::host::static_hostname;
use crate::settings::Hostname;

#[derive(Debug, thiserror::Error)]
pub enum HostApplyError {
    #[error("setting the kernel host name to {name}: {source}")]
    SetHostname { name: String, source: nix::Error },
}

/// Sets the running kernel's host name (what `/etc/hostname` holds), so the
/// name is right before the next boot; systemd reads the file from then on.
pub fn set_kernel_hostname(hostname: &Hostname) -> Result<(), HostApplyError> {
    let name = static_hostname(hostname);
    nix::unistd::sethostname(name).map_err(|source| HostApplyError::SetHostname {
        name: name.to_string(),
        source,
    })?;
    tracing::info!(hostname = name, "set the kernel host name");
    Ok(())
}

#[cfg(test)]
mod tests;
