//! IPv4 subnets (`10.201.3.0/24`): just enough arithmetic for IPAM and for
//! checking overlaps with the host's routes. A learner can read all of it.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// An IPv4 network: a base address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Subnet {
    /// A subnet from any address inside it and a prefix length (0..=32);
    /// host bits are cleared, as `ip route` does.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, Error> {
        if prefix > 32 {
            return Err(Error::Parse {
                what: "subnet",
                input: format!("{addr}/{prefix}"),
                detail: "the prefix length must be at most 32".into(),
            });
        }
        let mask = Self::mask_of(prefix);
        Ok(Subnet {
            addr: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        })
    }

    fn mask_of(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        }
    }

    /// The network address (`10.201.3.0`).
    pub fn network(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length (`24`).
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The broadcast address (`10.201.3.255`).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !Self::mask_of(self.prefix))
    }

    /// Number of addresses, network and broadcast included.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// The n-th address of the subnet (0 is the network address).
    pub fn nth(&self, n: u64) -> Option<Ipv4Addr> {
        (n < self.size()).then(|| Ipv4Addr::from(u32::from(self.addr) + n as u32))
    }

    /// The offset of `ip` inside the subnet.
    pub fn offset_of(&self, ip: Ipv4Addr) -> Option<u64> {
        self.contains(ip)
            .then(|| u64::from(u32::from(ip) - u32::from(self.addr)))
    }

    /// The first usable address, which a bridge network gives its gateway (`.1`).
    pub fn gateway(&self) -> Ipv4Addr {
        self.nth(1).unwrap_or(self.addr)
    }

    /// Whether `ip` lies inside.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask_of(self.prefix) == u32::from(self.addr)
    }

    /// Whether two subnets share at least one address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// Split into subnets of a longer prefix (`10.201.0.0/16` into /24s).
    pub fn split(&self, prefix: u8) -> impl Iterator<Item = Subnet> + '_ {
        let count = if prefix >= self.prefix && prefix <= 32 {
            1u64 << (prefix - self.prefix)
        } else {
            0
        };
        let step = if prefix <= 32 {
            1u64 << (32 - u32::from(prefix))
        } else {
            0
        };
        (0..count).map(move |i| Subnet {
            addr: Ipv4Addr::from(u32::from(self.addr) + (i * step) as u32),
            prefix,
        })
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |detail: &str| Error::Parse {
            what: "subnet",
            input: s.to_string(),
            detail: detail.into(),
        };
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| bad("expected ADDRESS/PREFIX, e.g. 10.201.3.0/24"))?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad("not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| bad("the prefix length is not a number"))?;
        let subnet = Subnet::new(addr, prefix)?;
        if subnet.addr != addr {
            return Err(bad("host bits are set (did you mean the network address?)"));
        }
        Ok(subnet)
    }
}

impl TryFrom<String> for Subnet {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<Subnet> for String {
    fn from(s: Subnet) -> String {
        s.to_string()
    }
}

/// Docker's default pools for user networks, minus `172.17.0.0/16` (the
/// default `docker0` bridge): `172.18-31.0.0/16`, then `192.168.0.0/16` cut
/// into /20s. [`choose_subnet`] takes the first one free of host routes.
pub fn default_pool() -> Vec<Subnet> {
    let mut pool: Vec<Subnet> = (18..=31)
        .map(|b| Subnet {
            addr: Ipv4Addr::new(172, b, 0, 0),
            prefix: 16,
        })
        .collect();
    pool.extend(
        Subnet {
            addr: Ipv4Addr::new(192, 168, 0, 0),
            prefix: 16,
        }
        .split(20),
    );
    pool
}

/// The first candidate that overlaps no host route and no subnet already in
/// use. Default routes (`0.0.0.0/0`) are ignored: they overlap everything.
pub fn choose_subnet(
    candidates: &[Subnet],
    host_routes: &[Subnet],
    in_use: &[Subnet],
) -> Option<Subnet> {
    candidates.iter().copied().find(|c| {
        c.network() != Ipv4Addr::new(172, 17, 0, 0)
            && !host_routes
                .iter()
                .filter(|r| r.prefix() > 0)
                .any(|r| r.overlaps(c))
            && !in_use.iter().any(|u| u.overlaps(c))
    })
}

/// Refuse a subnet that overlaps a (non-default) host route.
pub fn check_free(subnet: Subnet, host_routes: &[Subnet]) -> Result<(), Error> {
    match host_routes
        .iter()
        .find(|r| r.prefix() > 0 && r.overlaps(&subnet))
    {
        Some(route) => Err(Error::SubnetOverlapsRoute {
            subnet,
            route: *route,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Subnet {
        x.parse().unwrap()
    }

    #[test]
    fn arithmetic() {
        let n = s("10.201.3.0/24");
        assert_eq!(n.gateway(), Ipv4Addr::new(10, 201, 3, 1));
        assert_eq!(n.broadcast(), Ipv4Addr::new(10, 201, 3, 255));
        assert_eq!(n.size(), 256);
        assert!(n.contains(Ipv4Addr::new(10, 201, 3, 77)));
        assert!(!n.contains(Ipv4Addr::new(10, 201, 4, 1)));
        assert!(n.overlaps(&s("10.201.0.0/16")));
        assert!(!n.overlaps(&s("10.201.4.0/24")));
        assert_eq!(s("10.201.0.0/16").split(24).count(), 256);
        assert!("10.201.3.1/24".parse::<Subnet>().is_err());
        assert!("10.201.3.0/33".parse::<Subnet>().is_err());
        assert_eq!(s("0.0.0.0/0").size(), 1 << 32);
    }

    #[test]
    fn default_subnet_avoids_docker0_and_host_routes() {
        let routes = [
            s("0.0.0.0/0"),
            s("192.0.2.0/24"),
            s("172.18.0.0/16"),
            s("172.19.5.0/24"),
        ];
        let chosen = choose_subnet(&default_pool(), &routes, &[s("172.20.0.0/16")]).unwrap();
        assert_eq!(chosen, s("172.21.0.0/16"));
        assert!(!default_pool().contains(&s("172.17.0.0/16")));
        assert!(check_free(s("172.19.0.0/16"), &routes).is_err());
        assert!(check_free(s("10.201.9.0/24"), &routes).is_ok());
    }
}
