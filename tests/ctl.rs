//! The admin API and voxgatectl against a running voxgate, over loopback: tokens
//! (`[admin] tokens`), the public address for probes and metrics, drain and undrain, a
//! route's kill switch, operator blocks, trunks in and out of service, reload and the
//! config version; and CAP_NET_BIND_SERVICE dropped at start when no port < 1024 is
//! configured.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TOKEN: &str = "ctl-test-token";

/// A scratch folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("voxgate-ctl-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// voxgate, killed (by its own pid) when the test ends.
struct Voxgate {
    child: Child,
    admin: SocketAddr,
    public: Option<SocketAddr>,
    sip: u16,
    log: mpsc::Receiver<String>,
}

impl Drop for Voxgate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn hash(token: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_voxgate"))
        .args(["hash-token", token])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A config: SIP UDP on `sip`, admin on an OS-chosen port with `admin_extra`; trunk
/// "loop" (127.0.0.1) and route "r" (3000, to a destination nobody answers).
fn config(sip: u16, admin_extra: &str) -> String {
    let pid = u16::try_from(std::process::id() % 100).unwrap();
    let media = 46_000 + pid * 20;
    format!(
        r#"[node]
name = "ctl-test"
region = "r1"
[admin]
listen = "127.0.0.1:0"
{admin_extra}
[[listener]]
transport = "udp"
address = "127.0.0.1:{sip}"
[[trunk]]
name = "loop"
allow = ["127.0.0.1/32"]
[[route]]
name = "r"
match_user = {{ exact = "3000" }}
destinations = [{{ uri = "sip:127.0.0.1:9", trunk = "loop" }}]
[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = {media}
port_max = {}
"#,
        media + 19
    )
}

fn start(file: &Path, sip: u16) -> Voxgate {
    let mut child = Command::new(env!("CARGO_BIN_EXE_voxgate"))
        .arg("--config")
        .arg(file)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut v = Voxgate {
        child,
        admin: "0.0.0.0:0".parse().unwrap(),
        public: None,
        sip,
        log,
    };
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = v.log.recv_timeout(left) else {
            break;
        };
        if let Some(at) = line.split("public_addr=").nth(1) {
            v.public = Some(at.trim().parse().unwrap());
        }
        if let Some(at) = line.split("admin_addr=").nth(1) {
            v.admin = at.trim().parse().unwrap();
        }
        let running = line.contains("voxgate running");
        lines.push(line);
        if running {
            return v;
        }
    }
    panic!("voxgate did not start:\n{}", lines.join("\n"));
}

/// One HTTP request; `(status, body)`.
fn http(at: SocketAddr, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(at).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

/// voxgatectl with the admin address and token in the environment.
fn ctl(v: &Voxgate, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voxgatectl"))
        .args(args)
        .env("VOXGATE_ADMIN", v.admin.to_string())
        .env("VOXGATE_TOKEN", TOKEN)
        .output()
        .unwrap()
}

/// voxgatectl that must succeed; its stdout.
fn ok(v: &Voxgate, args: &[&str]) -> String {
    let out = ctl(v, args);
    assert!(
        out.status.success(),
        "voxgatectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(v: &Voxgate, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ok(v, &all)).unwrap()
}

/// Sends a new INVITE for `user`; the status of its final response, or `None` when none
/// came within `wait`.
fn invite(sip: u16, user: &str, wait: Duration) -> Option<u16> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = s.local_addr().unwrap();
    let tag = format!("{}-{}", std::process::id(), me.port());
    let head = |method: &str, to: &str| {
        format!(
            "{method} sip:{user}@127.0.0.1:{sip} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bK-ctl-{tag}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:tester@127.0.0.1>;tag=ctl\r\n\
             {to}\r\n\
             Call-ID: ctl-{tag}@127.0.0.1\r\n\
             CSeq: 1 {method}\r\n"
        )
    };
    let msg = format!(
        "{}Contact: <sip:tester@{me}>\r\nContent-Length: 0\r\n\r\n",
        head("INVITE", &format!("To: <sip:{user}@127.0.0.1>"))
    );
    s.send_to(msg.as_bytes(), ("127.0.0.1", sip)).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.recv(&mut buf).ok()?;
        let response = String::from_utf8_lossy(&buf[..n]).into_owned();
        let status: u16 = response[8..11].parse().unwrap();
        if status < 200 {
            continue;
        }
        // The ACK of a non-2xx (RFC 3261 §17.1.1.3), with the response's To.
        let to = response
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("to:"))
            .unwrap();
        let ack = format!("{}Content-Length: 0\r\n\r\n", head("ACK", to));
        s.send_to(ack.as_bytes(), ("127.0.0.1", sip)).unwrap();
        return Some(status);
    }
}

const ANSWER: Duration = Duration::from_secs(5);

#[test]
fn admin_tokens_the_public_address_and_voxgatectl() {
    let dir = Scratch::new("ops");
    let sip = free_udp_port();
    let file = dir.0.join("voxgate.toml");
    let admin = format!(
        "public_listen = \"127.0.0.1:0\"\ntokens = [{{ name = \"ops\", sha256 = \"{}\" }}]",
        hash(TOKEN)
    );
    std::fs::write(&file, config(sip, &admin)).unwrap();
    let v = start(&file, sip);
    let public = v.public.expect("the public listener's address in the log");

    // Tokens: none or a wrong one is 401; the probes and metrics need none.
    assert_eq!(http(v.admin, "GET", "/calls", None).0, 401);
    assert_eq!(http(v.admin, "GET", "/calls", Some("nope")).0, 401);
    assert_eq!(http(v.admin, "POST", "/reload", None).0, 401);
    assert_eq!(http(v.admin, "GET", "/calls", Some(TOKEN)).0, 200);
    assert_eq!(http(v.admin, "GET", "/readyz", None).0, 200);
    let metrics = http(v.admin, "GET", "/metrics", None).1;
    assert!(
        metrics.contains("voxgate_admin_refusals_total{reason=\"unauthorized\"} 3"),
        "{metrics}"
    );
    // The public address has the probes and metrics only, with or without a token.
    assert_eq!(http(public, "GET", "/healthz", None).0, 200);
    assert_eq!(http(public, "GET", "/metrics", None).0, 200);
    assert_eq!(http(public, "GET", "/calls", Some(TOKEN)).0, 404);
    assert_eq!(http(public, "POST", "/reload", Some(TOKEN)).0, 404);

    // voxgatectl: a wrong token is refused, and says so.
    let out = Command::new(env!("CARGO_BIN_EXE_voxgatectl"))
        .args(["--admin", &v.admin.to_string(), "--token", "nope", "calls"])
        .env_remove("VOXGATE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    assert_eq!(ok(&v, &["calls"]).trim(), "no calls");
    let trunks = ok(&v, &["trunks"]);
    assert!(
        trunks
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["loop", "in"])),
        "{trunks}"
    );

    // No route for 2000: 404. Drained: 503 and not ready; undrained: 404 and ready.
    assert_eq!(invite(sip, "2000", ANSWER), Some(404));
    let drained = json(&v, &["drain"]);
    assert_eq!(drained["draining"], true);
    assert_eq!(http(public, "GET", "/readyz", None).0, 503);
    assert_eq!(invite(sip, "2000", ANSWER), Some(503));
    assert!(
        http(v.admin, "GET", "/metrics", None)
            .1
            .contains("voxgate_draining 1")
    );
    json(&v, &["undrain"]);
    assert_eq!(http(public, "GET", "/readyz", None).0, 200);
    assert_eq!(invite(sip, "2000", ANSWER), Some(404));

    // The route's kill switch: off, its calls get 503; a call no route takes is unchanged.
    let off = json(&v, &["switch", "off", "route", "r"]);
    assert_eq!(off["on"], false);
    assert_eq!(invite(sip, "3000", ANSWER), Some(503));
    assert_eq!(invite(sip, "2000", ANSWER), Some(404));
    let switches = json(&v, &["switches"]);
    let r = switches
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["capability"] == "route" && s["name"] == "r")
        .unwrap();
    assert_eq!(r["on"], false);
    assert!(
        http(v.admin, "GET", "/metrics", None)
            .1
            .contains("voxgate_kill_switch_off{capability=\"route\",name=\"r\"} 1")
    );
    json(&v, &["switch", "on", "route", "r"]);
    assert!(
        !ctl(&v, &["switch", "off", "route", "no-such-route"])
            .status
            .success()
    );

    // A block: 127.0.0.1 gets silence (its trunk's address too: the operator said so),
    // listed by bans; unblocked, answered again.
    let blocked = json(&v, &["block", "127.0.0.1", "--for", "60"]);
    assert_eq!(blocked["address"], "127.0.0.1/32");
    assert_eq!(invite(sip, "2000", Duration::from_millis(800)), None);
    let bans = ok(&v, &["bans"]);
    assert!(
        bans.contains("127.0.0.1/32") && bans.contains("operator"),
        "{bans}"
    );
    ok(&v, &["unblock", "127.0.0.1"]);
    assert_eq!(invite(sip, "2000", ANSWER), Some(404));
    assert_eq!(ok(&v, &["bans"]).trim(), "no bans or blocks");
    assert!(!ctl(&v, &["unblock", "127.0.0.1"]).status.success());
    assert!(!ctl(&v, &["block", "not-an-address"]).status.success());

    // A trunk out of service and back.
    let out = ok(&v, &["trunk", "out", "loop"]);
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().take(2).eq(["loop", "out"])),
        "{out}"
    );
    ok(&v, &["trunk", "in", "loop"]);

    // The config version: the file's SHA-256, generation 1, then 2 after a reload.
    let text = std::fs::read_to_string(&file).unwrap();
    let version = json(&v, &["config"]);
    assert_eq!(version["generation"], 1);
    assert_eq!(version["sha256"], hash(&text));
    std::fs::write(&file, format!("{text}[calls]\nring_timeout_s = 30\n")).unwrap();
    assert!(ok(&v, &["reload"]).contains("OK: configuration reloaded"));
    let version = json(&v, &["config"]);
    assert_eq!(version["generation"], 2);
    assert_ne!(version["sha256"], hash(&text));
    // A refused reload is counted there, and voxgatectl fails with the reason.
    std::fs::write(&file, format!("{text}[calls]\nnope = 1\n")).unwrap();
    let out = ctl(&v, &["reload"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    let version = json(&v, &["config"]);
    assert_eq!(
        (
            version["generation"].clone(),
            version["refused_since"].clone()
        ),
        (2.into(), 1.into())
    );
}

#[test]
fn without_admin_tokens_the_admin_api_is_closed() {
    let dir = Scratch::new("closed");
    let sip = free_udp_port();
    let file = dir.0.join("voxgate.toml");
    std::fs::write(&file, config(sip, "")).unwrap();
    let v = start(&file, sip);
    let (status, body) = http(v.admin, "POST", "/reload", Some(TOKEN));
    assert_eq!(status, 403);
    assert!(body.contains("no [admin] tokens"), "{body}");
    assert_eq!(http(v.admin, "GET", "/metrics", None).0, 200);
    assert_eq!(http(v.admin, "GET", "/readyz", None).0, 200);
    let _ = v.sip;
}

/// `CapPrm`/`CapEff` of every thread of `pid`: whether CAP_NET_BIND_SERVICE (bit 10) is
/// in each.
fn bind_cap_per_thread(pid: u32) -> Vec<bool> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
        for key in ["CapPrm:", "CapEff:"] {
            let hex = status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap()
                .trim();
            out.push(u64::from_str_radix(hex, 16).unwrap() & (1 << 10) != 0);
        }
    }
    out
}

#[test]
fn cap_net_bind_service_is_dropped_in_every_thread_unless_a_port_below_1024_is_configured() {
    if !bind_cap_per_thread(std::process::id())[0] {
        eprintln!("skipped: this test process does not hold CAP_NET_BIND_SERVICE to pass on");
        return;
    }
    let dir = Scratch::new("caps");
    let sip = free_udp_port();
    let file = dir.0.join("voxgate.toml");
    std::fs::write(&file, config(sip, "")).unwrap();
    let v = start(&file, sip);
    let caps = bind_cap_per_thread(v.child.id());
    // The signalling thread and the media runtime's (2 sets each).
    assert!(caps.len() >= 4, "{caps:?}");
    assert!(caps.iter().all(|held| !held), "{caps:?}");
    drop(v);

    // A public address on a port below 1024: kept, in every thread.
    let low = (1000..1024)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below 1024");
    std::fs::write(
        &file,
        config(sip, &format!("public_listen = \"127.0.0.1:{low}\"")),
    )
    .unwrap();
    let v = start(&file, sip);
    let caps = bind_cap_per_thread(v.child.id());
    assert!(caps.iter().all(|held| *held), "{caps:?}");
}

/// A far end on `socket` that answers every INVITE with 503 (and absorbs the ACKs) until
/// `stop` is set; counts the INVITEs.
fn refusing_far_end(
    socket: UdpSocket,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut invites = 0;
        let mut buf = [0u8; 8192];
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let Ok((n, from)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !text.starts_with("INVITE ") {
                continue;
            }
            invites += 1;
            let header = |name: &str| {
                text.lines()
                    .filter(|l| {
                        l.to_ascii_lowercase()
                            .starts_with(&format!("{}:", name.to_ascii_lowercase()))
                    })
                    .collect::<Vec<_>>()
                    .join("\r\n")
            };
            let response = format!(
                "SIP/2.0 503 Service Unavailable\r\n{}\r\n{}\r\n{};tag=far\r\n{}\r\n{}\r\nContent-Length: 0\r\n\r\n",
                header("Via"),
                header("From"),
                header("To"),
                header("Call-ID"),
                header("CSeq"),
            );
            socket.send_to(response.as_bytes(), from).unwrap();
        }
        invites
    })
}

#[test]
fn a_trunk_whose_calls_fail_trips_its_kill_switch() {
    let dir = Scratch::new("trip");
    let sip = free_udp_port();
    let far = UdpSocket::bind("127.0.0.1:0").unwrap();
    let far_port = far.local_addr().unwrap().port();
    let file = dir.0.join("voxgate.toml");
    let admin = format!(
        "tokens = [{{ name = \"ops\", sha256 = \"{}\" }}]",
        hash(TOKEN)
    );
    // Route 4000 to a carrier trunk whose far end refuses everything with 503; two failures
    // of two attempts in a minute trip it.
    let text = config(sip, &admin).replace(
        "[[media_region]]",
        &format!(
            "[[trunk]]\nname = \"carrier\"\nallow = [\"127.0.0.2/32\"]\n\
             [[route]]\nname = \"out\"\nmatch_user = {{ exact = \"4000\" }}\n\
             destinations = [{{ uri = \"sip:127.0.0.1:{far_port}\", trunk = \"carrier\" }}]\n\
             [kill_switch]\nerror_percent = 100\nwindow_s = 60\nmin_attempts = 2\n\
             [[media_region]]"
        ),
    );
    std::fs::write(&file, text).unwrap();
    let v = start(&file, sip);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let far_end = refusing_far_end(far, stop.clone());

    // A downstream 503 reaches the caller as 500 (RFC 3261 §16.7).
    assert_eq!(invite(sip, "4000", ANSWER), Some(500));
    let carrier_on = |v: &Voxgate| {
        json(v, &["switches"])
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["capability"] == "trunk" && s["name"] == "carrier")
            .unwrap()["on"]
            .clone()
    };
    assert_eq!(carrier_on(&v), true);
    assert_eq!(invite(sip, "4000", ANSWER), Some(500));
    // The second failure tripped it: out of service, counted, logged.
    let deadline = Instant::now() + Duration::from_secs(5);
    while carrier_on(&v) == true && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(carrier_on(&v), false);
    let metrics = http(v.admin, "GET", "/metrics", None).1;
    assert!(
        metrics
            .contains("voxgate_kill_switch_trips_total{capability=\"trunk\",name=\"carrier\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("voxgate_trunk_out_of_service{trunk=\"carrier\"} 1"),
        "{metrics}"
    );
    let trunks = ok(&v, &["trunks"]);
    assert!(
        trunks
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["carrier", "out"])),
        "{trunks}"
    );
    // Now its destination is skipped: no third INVITE reaches the far end.
    assert!(invite(sip, "4000", ANSWER).is_some_and(|s| s >= 400));
    // The operator turns it back on: dialled again.
    ok(&v, &["switch", "on", "trunk", "carrier"]);
    assert_eq!(invite(sip, "4000", ANSWER), Some(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(far_end.join().unwrap(), 3);
}
