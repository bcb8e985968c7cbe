//! # Hardening: the small defences the engine adds around its state and API
//!
//! - The data root is `0710` (as Docker's `/var/lib/docker`) and each
//!   container's directory `0700`: another user of the host can neither
//!   list nor traverse into a container's root filesystem.
//! - Every API error is JSON `{"message": …}`, also the ones the HTTP
//!   layer makes itself (a body over the limit, a query that does not
//!   parse), so the docker CLI prints them as it prints Docker's.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// `chmod 0700 DIR`: the daemon's alone.
pub fn restrict_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}
