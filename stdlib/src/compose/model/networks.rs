//! Networks: a service's attachments (aliases, static addresses, priority) and a
//! network's IPAM (subnets, ranges, gateways), with the addresses checked against the
//! subnets before anything runs.

use std::collections::BTreeMap;
use std::net::IpAddr;

use indexmap::IndexMap;
use serde::{Serialize, Serializer};

use super::reader::Map;
use super::*;

/// How a service joins one network.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attachment {
    /// `aliases:` (the service's name is always one).
    pub aliases: Vec<String>,
    /// `ipv4_address:`.
    pub ipv4_address: Option<String>,
    /// `ipv6_address:`.
    pub ipv6_address: Option<String>,
    /// `link_local_ips:`.
    pub link_local_ips: Vec<String>,
    /// `mac_address:`.
    pub mac_address: Option<String>,
    /// `priority:` (the highest is joined first, at create; ties in name order).
    pub priority: i64,
}

impl Serialize for Attachment {
    /// As the aliases alone when nothing else is set (the configuration hash of a
    /// container created before ops knew addresses stays the same), else as a map.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let plain = self.ipv4_address.is_none()
            && self.ipv6_address.is_none()
            && self.link_local_ips.is_empty()
            && self.mac_address.is_none()
            && self.priority == 0;
        if plain {
            return self.aliases.serialize(serializer);
        }
        #[derive(Serialize)]
        struct Full<'a> {
            aliases: &'a [String],
            ipv4_address: &'a Option<String>,
            ipv6_address: &'a Option<String>,
            link_local_ips: &'a [String],
            mac_address: &'a Option<String>,
            priority: i64,
        }
        Full {
            aliases: &self.aliases,
            ipv4_address: &self.ipv4_address,
            ipv6_address: &self.ipv6_address,
            link_local_ips: &self.link_local_ips,
            mac_address: &self.mac_address,
            priority: self.priority,
        }
        .serialize(serializer)
    }
}

/// A network's `ipam:`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ipam {
    /// `driver:` (default: the engine's).
    pub driver: Option<String>,
    /// `config:` pools.
    pub pools: Vec<Pool>,
    /// `options:`.
    pub options: BTreeMap<String, String>,
}

/// One address pool of `ipam.config`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pool {
    /// `subnet:` (CIDR).
    pub subnet: String,
    /// `ip_range:` (CIDR inside the subnet).
    pub ip_range: Option<String>,
    /// `gateway:`.
    pub gateway: Option<String>,
    /// `aux_addresses:`.
    pub aux_addresses: BTreeMap<String, String>,
}

/// `ADDRESS/BITS` as (address, prefix length).
pub fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = text.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((addr, bits))
}

/// Whether `addr` is inside the network `cidr`.
pub fn contains(cidr: (IpAddr, u8), addr: IpAddr) -> bool {
    let (net, bits) = cidr;
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

impl Reader<'_> {
    pub(super) fn service_networks(
        &mut self,
        node: &Node,
        what: &str,
        networks: &IndexMap<String, Resource>,
    ) -> BTreeMap<String, Attachment> {
        let mut out = BTreeMap::new();
        match &node.value {
            Value::Seq(items) => {
                for item in items {
                    if let Some(n) = self.string(item, what) {
                        self.known_network(&n, item.pos, networks);
                        out.insert(n, Attachment::default());
                    }
                }
            }
            Value::Map(m) => {
                for (n, (pos, v)) in m {
                    self.known_network(n, *pos, networks);
                    let attachment = match &v.value {
                        Value::Map(attrs) => self.attachment(n, attrs, what, networks.get(n)),
                        _ => Attachment::default(),
                    };
                    out.insert(n.clone(), attachment);
                }
            }
            _ => self.error(node.pos, format!("{what} must be a list or a mapping")),
        }
        out
    }

    fn known_network(&mut self, name: &str, pos: Pos, networks: &IndexMap<String, Resource>) {
        if name != "default" && !networks.contains_key(name) {
            self.error(
                pos,
                format!("network `{name}` is not declared under top-level `networks`"),
            );
        }
    }

    fn attachment(
        &mut self,
        network: &str,
        attrs: &Map,
        what: &str,
        resource: Option<&Resource>,
    ) -> Attachment {
        let mut a = Attachment::default();
        for (k, (kpos, v)) in attrs {
            let each = format!("`{k}` of network `{network}` in {what}");
            match k.as_str() {
                "aliases" => a.aliases = self.strings(v, &each, false),
                "ipv4_address" | "ipv6_address" => {
                    let text = self.string(v, &each).unwrap_or_default();
                    let v6 = k == "ipv6_address";
                    match text.parse::<IpAddr>() {
                        Ok(ip) if ip.is_ipv6() == v6 => {
                            self.address_in_subnet(network, resource, ip, v.pos, &each);
                        }
                        _ => self.error(
                            v.pos,
                            format!("{each}: `{text}` is not an IPv{} address", if v6 { 6 } else { 4 }),
                        ),
                    }
                    if v6 {
                        a.ipv6_address = Some(text);
                    } else {
                        a.ipv4_address = Some(text);
                    }
                }
                "link_local_ips" => a.link_local_ips = self.strings(v, &each, false),
                "mac_address" => a.mac_address = self.string(v, &each),
                "priority" => a.priority = self.int_in(v, &each, i64::MIN, i64::MAX).unwrap_or(0),
                other => self.error(
                    *kpos,
                    format!("unsupported key `{other}` in network `{network}` of {what} (supported: aliases, ipv4_address, ipv6_address, link_local_ips, mac_address, priority)"),
                ),
            }
        }
        a
    }

    /// A static address needs a subnet of the project's network that holds it (the
    /// engine only gives static addresses on user-configured subnets).
    fn address_in_subnet(
        &mut self,
        network: &str,
        resource: Option<&Resource>,
        ip: IpAddr,
        pos: Pos,
        what: &str,
    ) {
        let Some(r) = resource.filter(|r| !r.external) else {
            return;
        };
        let subnets: Vec<(IpAddr, u8)> = r
            .ipam
            .pools
            .iter()
            .filter_map(|p| parse_cidr(&p.subnet))
            .filter(|(net, _)| net.is_ipv6() == ip.is_ipv6())
            .collect();
        if subnets.is_empty() {
            self.error(pos, format!("{what}: a static address needs a subnet: give network `{network}` an `ipam.config` subnet"));
        } else if !subnets.iter().any(|c| contains(*c, ip)) {
            let list: Vec<String> = r.ipam.pools.iter().map(|p| p.subnet.clone()).collect();
            self.error(
                pos,
                format!(
                    "{what}: {ip} is outside the subnets of network `{network}` ({})",
                    list.join(", ")
                ),
            );
        }
    }

    /// `ipam:` of a top-level network.
    pub(super) fn ipam(&mut self, node: &Node, what: &str) -> Ipam {
        let mut ipam = Ipam::default();
        let Some(map) = self.map(node, what) else {
            return ipam;
        };
        for (k, (kpos, v)) in map {
            let each = format!("{what} `{k}`");
            match k.as_str() {
                "driver" => ipam.driver = self.string(v, &each),
                "options" => ipam.options = self.key_values(v, &each, false),
                "config" => {
                    let Value::Seq(items) = &v.value else {
                        self.error(v.pos, format!("{each} must be a list"));
                        continue;
                    };
                    for item in items {
                        if let Some(m) = self.map(item, &each) {
                            let m = m.clone();
                            if let Some(pool) = self.pool(&m, item.pos, &each) {
                                ipam.pools.push(pool);
                            }
                        }
                    }
                }
                other => self.error(
                    *kpos,
                    format!(
                        "{what}: unsupported key `{other}` (supported: driver, config, options)"
                    ),
                ),
            }
        }
        ipam
    }

    fn pool(&mut self, m: &Map, pos: Pos, what: &str) -> Option<Pool> {
        let mut pool = Pool::default();
        for (k, (kpos, v)) in m {
            let each = format!("{what} `{k}`");
            match k.as_str() {
                "subnet" => pool.subnet = self.string(v, &each).unwrap_or_default(),
                "ip_range" => pool.ip_range = self.string(v, &each),
                "gateway" => pool.gateway = self.string(v, &each),
                "aux_addresses" => pool.aux_addresses = self.key_values(v, &each, false),
                other => self.error(*kpos, format!("{what}: unsupported key `{other}` (supported: subnet, ip_range, gateway, aux_addresses)")),
            }
        }
        let Some(subnet) = parse_cidr(&pool.subnet) else {
            self.error(
                pos,
                format!(
                    "{what}: `{}` is not a subnet (like 172.28.0.0/16)",
                    pool.subnet
                ),
            );
            return None;
        };
        if let Some(range) = &pool.ip_range {
            match parse_cidr(range) {
                Some((net, bits)) if bits >= subnet.1 && contains(subnet, net) => {}
                _ => self.error(
                    pos,
                    format!(
                        "{what}: ip_range `{range}` is not a range inside {}",
                        pool.subnet
                    ),
                ),
            }
        }
        let addresses = pool
            .gateway
            .iter()
            .map(|g| ("gateway", g))
            .chain(pool.aux_addresses.values().map(|a| ("aux address", a)));
        for (kind, addr) in addresses {
            if !addr.parse::<IpAddr>().is_ok_and(|ip| contains(subnet, ip)) {
                self.error(
                    pos,
                    format!(
                        "{what}: {kind} `{addr}` is not an address in {}",
                        pool.subnet
                    ),
                );
            }
        }
        Some(pool)
    }
}
