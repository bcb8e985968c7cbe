//! Addresses for a test's networks, and pages fetched through the ports a
//! container publishes (only 127.0.0.0/8 and the test's own subnets).

/// A /24 of `10.<second>.0.0/16` that no host route uses, picked at random
/// (tests running at once pick different ones, and each checks again).
pub fn free_subnet(second: u8) -> network::Subnet {
    let routes = network::network::host_routes().unwrap();
    let seed = u32::from_str_radix(&network::names::unique_id(), 16).unwrap();
    for i in 0..256u32 {
        let s: network::Subnet = format!("10.{second}.{}.0/24", (seed + i * 7) % 256)
            .parse()
            .unwrap();
        if network::subnet::check_free(s, &routes).is_ok() {
            return s;
        }
    }
    panic!("no free /24 left in 10.{second}.0.0/16");
}

/// `GET /` through 127.0.0.1:`port` until the test image's page comes
/// (retried for about 5 s while httpd starts), or why it did not.
pub fn fetch_page(port: u16) -> Result<String, String> {
    fetch_until(port, 100, |page| page.contains("hello from mini-docker"))
}

/// `GET /` over HTTP/1.0 through 127.0.0.1:`port`, retried every 50 ms
/// (`tries` times at most) until the answer satisfies `done`: the answer
/// (status line, headers, page), or the last answer or error.
pub fn fetch_until(port: u16, tries: usize, done: impl Fn(&str) -> bool) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut last = String::new();
    for _ in 0..tries {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
                let mut body = String::new();
                let _ = s.read_to_string(&mut body);
                if done(&body) {
                    return Ok(body);
                }
                last = body;
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(format!("no page from 127.0.0.1:{port}: {last}"))
}
