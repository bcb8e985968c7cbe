//! # Chapter 05: container networking
//!
//! A container in its own network namespace starts with nothing but a `lo`
//! that is down. This chapter gives it what `docker run -p 8080:80` gives it,
//! with the same kernel objects Docker's bridge driver uses:
//!
//! 1. a **network namespace** in a file ([`netns`]), made before the
//!    container, so the engine can wire it first and the runtime joins it;
//! 2. a **bridge** on the host, a virtual switch whose address is the
//!    containers' gateway ([`network::plan_create_network`]);
//! 3. a **veth pair** per container: one end plugged into the bridge, the other
//!    moved into the container's namespace and renamed `eth0`, with an
//!    address from **IPAM** ([`ipam`]) and a default route via the bridge
//!    ([`network::plan_connect`]);
//! 4. **nftables** rules in a table of our own ([`nft`]): masquerade for
//!    traffic leaving the bridge, DNAT for published ports, a hairpin rule,
//!    and isolation between networks ([`network::plan_publish`]);
//! 5. a **userland proxy** for connections to `127.0.0.1:PORT`, which DNAT
//!    cannot handle ([`proxy`]);
//! 6. **/etc/hosts** and **/etc/resolv.conf** for the container ([`dns`]).
//!
//! Links, addresses and routes go through netlink ([`netlink`]), the
//! interface `ip` itself uses; nothing here runs `ip`. Every mechanism is
//! *planned* first ([`plan::Step`]): each step prints as the `ip`/`nft`
//! command that does the same, so you can replay the tour by hand.
//!
//! ```text
//! $ sudo cargo run -p chapter05
//! + ip link add name ch05b3fa21c type bridge
//!       # a virtual switch for the containers of this network
//! + ip addr add 172.18.0.1/16 dev ch05b3fa21c
//! ...
//! ```
//!
//! Man pages: ip-link(8), veth(4), bridge(8), ip-route(8),
//! network_namespaces(7), nft(8), conntrack(8).

pub mod dns;
pub mod error;
pub mod ipam;
pub mod names;
pub mod netlink;
pub mod netns;
pub mod network;
pub mod nft;
pub mod plan;
pub mod proxy;
pub mod subnet;

pub use error::{Error, Result};
pub use network::{Endpoint, Network, NetworkSpec, PortMap, PortMapping};
pub use plan::{Applier, Step};
pub use subnet::Subnet;
