//! The address ranges the proxy refuses to connect to unless the operator
//! lists them: everything that is not the public internet. Metadata
//! endpoints (169.254.169.254, 169.254.170.2, fd00:ec2::254) fall in
//! link-local and private; IPv6 forms that carry an IPv4 address (mapped,
//! compatible, NAT64, 6to4) are judged by that address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The name of the refused range `address` lies in, or `None` for a
/// public address.
pub(crate) fn refused_range(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => refused_v4(v4),
            None => refused_v6(v6),
        },
    }
}

/// Every refused range, as `get_network_policy` lists them.
pub(crate) const REFUSED: &[&str] = &[
    "0.0.0.0/8 and :: (unspecified)",
    "127.0.0.0/8 and ::1 (loopback)",
    "169.254.0.0/16 and fe80::/10 (link-local: instance and task metadata)",
    "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 and fc00::/7 (private)",
    "100.64.0.0/10 (CGNAT, shared address space)",
    "224.0.0.0/4 and ff00::/8 (multicast)",
    "255.255.255.255 (broadcast)",
    "192.0.0.0/24, 198.18.0.0/15, 240.0.0.0/4, fec0::/10, 2001::/32 (Teredo), 2001:db8::/32, 100::/64 (reserved)",
];

fn refused_v4(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = address.octets();
    Some(match (a, b, c) {
        (0, ..) => "unspecified",
        (127, ..) => "loopback",
        (169, 254, _) => "link-local",
        (10, ..) | (192, 168, _) => "private",
        (172, b, _) if (16..32).contains(&b) => "private",
        (100, b, _) if (64..128).contains(&b) => "CGNAT",
        (224..=239, ..) => "multicast",
        _ if address.is_broadcast() => "broadcast",
        (192, 0, 0) | (198, 18..=19, _) | (240..=255, ..) => "reserved",
        _ => return None,
    })
}

fn refused_v6(address: Ipv6Addr) -> Option<&'static str> {
    let first = address.segments()[0];
    Some(match first {
        _ if address.is_unspecified() => "unspecified",
        _ if address.is_loopback() => "loopback",
        _ if first & 0xffc0 == 0xfe80 => "link-local",
        _ if first & 0xffc0 == 0xfec0 => "reserved",
        _ if first & 0xfe00 == 0xfc00 => "private",
        _ if first & 0xff00 == 0xff00 => "multicast",
        // Teredo tunnels to an IPv4 host; documentation; discard.
        0x2001 if address.segments()[1] == 0 || address.segments()[1] == 0x0db8 => "reserved",
        0x0100 if address.segments()[1..4] == [0, 0, 0] => "reserved",
        _ => return None,
    })
}

/// The IPv4 address an IPv6 one stands for: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
/// NAT64 (`64:ff9b::/96`, and the local-use `64:ff9b:1::/48`, whose
/// address may sit in any of the prefix lengths RFC 6052 allows; its last
/// 32 bits are judged) or 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = address.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(mapped) = address.to_ipv4_mapped() {
        return Some(mapped);
    }
    if s[..6] == [0; 6] && !address.is_loopback() && !address.is_unspecified() {
        return Some(low);
    }
    if s[..6] == [0, 0, 0, 0, 0xffff, 0] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..3] == [0x64, 0xff9b, 1] {
        return Some(low);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::refused_range;

    #[test]
    fn every_non_public_range_is_refused_by_name() {
        for (address, range) in [
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("::1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("169.254.170.2", "link-local"),
            ("fe80::1", "link-local"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("fd00:ec2::254", "private"),
            ("fc00::1", "private"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.254", "CGNAT"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("198.18.0.1", "reserved"),
            ("192.0.0.192", "reserved"),
            ("fec0::1", "reserved"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("2002:a9fe:a9fe::1", "link-local"),
            ("2002:0a00:0001::", "private"),
            ("::ffff:0:a9fe:a9fe", "link-local"),
            ("64:ff9b:1::a9fe:a9fe", "link-local"),
            ("64:ff9b:1:2:3:4:a00:1", "private"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"),
            ("2001:db8::1", "reserved"),
            ("100::1", "reserved"),
        ] {
            assert_eq!(refused_range(address.parse().unwrap()), Some(range), "{address}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for address in ["140.82.112.3", "151.101.0.223", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "2002:8c52::1"]
        {
            assert_eq!(refused_range(address.parse().unwrap()), None, "{address}");
        }
    }
}
