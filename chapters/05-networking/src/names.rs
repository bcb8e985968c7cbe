//! Readable, unique names for the kernel objects this chapter makes.
//!
//! Every object carries the chapter's prefix so `ip link`, `ls` and
//! `nft list tables` tell a learner whose it is, and so a leak is easy to spot:
//!
//! | object | name | example |
//! | --- | --- | --- |
//! | bridge | `ch05b<6 hex>` | `ch05b3fa21c` |
//! | veth, host end | `ch05v<6 hex>` | `ch05v9d0e41` |
//! | veth, container end while in the host (plans that make it there) | `ch05p<6 hex>` | `ch05p9d0e41` |
//! | network namespace file | `ch05-<name>-<6 hex>` | `ch05-web-9d0e41` |
//! | nftables table | `chapter05_<6 hex>` | `chapter05_3fa21c` |
//!
//! Link names must fit `IFNAMSIZ` (16 bytes with the final NUL), so at most
//! 15 characters: `ch05b` + 6 hex digits is 11.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The longest name a network interface can have (IFNAMSIZ - 1).
pub const MAX_IFNAME: usize = 15;

/// Every link this chapter creates starts with this.
pub const LINK_PREFIX: &str = "ch05";
/// Bridges start with this (used by the isolation rule `oifname "ch05b*"`).
pub const BRIDGE_PREFIX: &str = "ch05b";
/// Every nftables table this chapter creates starts with this.
pub const TABLE_PREFIX: &str = "chapter05_";
/// Every namespace file this chapter creates starts with this.
pub const NETNS_PREFIX: &str = "ch05-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Six hex digits, different for every call in this process and very likely
/// different from any other process (pid, time and a counter, mixed).
pub fn unique_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut x =
        nanos ^ (u64::from(std::process::id()) << 32) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // splitmix64 finaliser: spreads every input bit over the output.
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    format!("{:06x}", x & 0xff_ffff)
}

/// `ch05b<id>`
pub fn bridge_name(id: &str) -> String {
    format!("{BRIDGE_PREFIX}{id}")
}

/// `ch05v<id>`: the host end of a container's veth pair.
pub fn veth_name(id: &str) -> String {
    format!("{LINK_PREFIX}v{id}")
}

/// `ch05p<id>`: the container end, for plans that make it in the host
/// (`plan_connect` makes it inside the namespace, as `eth0`).
pub fn peer_name(id: &str) -> String {
    format!("{LINK_PREFIX}p{id}")
}

/// `chapter05_<id>`
pub fn table_name(id: &str) -> String {
    format!("{TABLE_PREFIX}{id}")
}

/// `ch05-<label>-<id>`
pub fn netns_name(label: &str, id: &str) -> String {
    format!("{NETNS_PREFIX}{label}-{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_ifnamsiz_and_differ() {
        let a = unique_id();
        let b = unique_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 6);
        for n in [bridge_name(&a), veth_name(&a), peer_name(&a)] {
            assert!(n.len() <= MAX_IFNAME, "{n}");
            assert!(n.starts_with(LINK_PREFIX));
        }
        assert!(table_name(&a).starts_with(TABLE_PREFIX));
    }
}
