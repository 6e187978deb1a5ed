//! Stopping and reloading the voxgate process as systemd does, with SIPp as caller and
//! callee over loopback: SIGTERM drains (not ready at once, new calls 503, the call in
//! progress goes on, the process exits right after its BYE, or hangs it up at
//! `[calls] drain_timeout_s`); the sd_notify messages READY, RELOADING, STOPPING; a
//! reload that cannot be applied is refused as a whole and the unit's `ExecReload` fails;
//! `voxgate_build_info` names the git commit.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A scratch folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("voxgate-drain-{}-{name}", std::process::id()));
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

/// A child process killed (by its own pid) if the test ends before it does.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The admin token of [`config`], and its SHA-256.
const TOKEN: &str = "drain-test-token";
const TOKEN_SHA256: &str = "cab8a88b2801c7aa8b41d46751d2d7cef64f504660cece060f87864bc6d6f56a";

/// The config: SIP on `sip`, admin on an OS-chosen port, every call to the UAS on `uas`.
fn config(sip: u16, uas: u16, drain_s: u64, media_min: u16) -> String {
    format!(
        r#"[node]
name = "drain-test"
region = "r1"
[admin]
listen = "127.0.0.1:0"
tokens = [{{ name = "test", sha256 = "{TOKEN_SHA256}" }}]
[[listener]]
transport = "udp"
address = "127.0.0.1:{sip}"
[[trunk]]
name = "loopback"
allow = ["127.0.0.1/32"]
[[media_region]]
name = "r1"
addresses = ["127.0.0.1"]
port_min = {media_min}
port_max = {media_max}
[[route]]
name = "uas"
match_user = {{ prefix = "" }}
destinations = [{{ uri = "sip:127.0.0.1:{uas}", trunk = "loopback" }}]
[calls]
drain_timeout_s = {drain_s}
"#,
        media_max = media_min + 99
    )
}

/// A media range per test process, away from the SIPp suite's.
fn media_min(offset: u16) -> u16 {
    let pid = u16::try_from(std::process::id() % 100).unwrap();
    44_000 + pid * 200 + offset
}

struct Voxgate {
    proc: Proc,
    admin: SocketAddr,
    notify: UnixDatagram,
    log: mpsc::Receiver<String>,
}

/// Starts voxgate on `file` with a NOTIFY_SOCKET of its own; returns once READY=1 came.
fn start(dir: &Path, file: &Path) -> Voxgate {
    let socket = dir.join("notify.sock");
    let notify = UnixDatagram::bind(&socket).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_voxgate"))
        .arg("--config")
        .arg(file)
        .env("NOTIFY_SOCKET", &socket)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let proc = Proc(child);
    let (tx, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut v = Voxgate {
        proc,
        admin: "0.0.0.0:0".parse().unwrap(),
        notify,
        log,
    };
    let admin = v.wait_log("admin listener up");
    let at = admin.split("admin_addr=").nth(1).unwrap().trim();
    v.admin = at.parse().unwrap();
    assert_eq!(v.next_notify(), "READY=1\nSTATUS=running");
    v
}

impl Voxgate {
    fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no log line with {needle:?}");
    }

    fn next_notify(&self) -> String {
        let mut buf = [0u8; 512];
        let n = self.notify.recv(&mut buf).expect("an sd_notify message");
        // One `KEY=value` per line, each ending in a newline.
        String::from_utf8_lossy(&buf[..n]).trim_end().to_owned()
    }

    fn http(&self, method: &str, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(self.admin).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
        (status, body.unwrap_or_default())
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.proc.0.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Waits for the process to exit; its status and when it exited.
    fn wait_exit(&mut self, within: Duration) -> (std::process::ExitStatus, Instant) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.proc.0.try_wait().unwrap() {
                return (status, Instant::now());
            }
            assert!(
                Instant::now() < deadline,
                "voxgate still running after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `/calls` lists an answered call.
    fn wait_answered(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self
                .http("GET", "/calls")
                .1
                .contains("\"state\":\"answered\"")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no answered call in /calls");
    }
}

fn sipp(args: &[&str]) -> Proc {
    Proc(
        Command::new("sipp")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp (tests/run-all installs sip-tester)"),
    )
}

/// SIPp's built-in UAS on `port`, one call.
fn uas(port: u16) -> Proc {
    sipp(&[
        "-sn",
        "uas",
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-m",
        "1",
    ])
}

/// SIPp's built-in UAC: one call to 1000 through voxgate, hung up after `hold_ms`.
fn uac(sip: u16, hold_ms: u64) -> Proc {
    let target = format!("127.0.0.1:{sip}");
    let port = free_udp_port().to_string();
    let hold = hold_ms.to_string();
    sipp(&[
        "-sn",
        "uac",
        &target,
        "-s",
        "1000",
        "-i",
        "127.0.0.1",
        "-p",
        &port,
        "-m",
        "1",
        "-d",
        &hold,
        "-timeout",
        "30",
        "-timeout_error",
    ])
}

/// Sends a new INVITE to voxgate and returns the status of its final response.
fn invite_status(sip: u16) -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = s.local_addr().unwrap();
    let msg = format!(
        "INVITE sip:2000@127.0.0.1:{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-drain-{pid}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:tester@127.0.0.1>;tag=drain\r\n\
         To: <sip:2000@127.0.0.1>\r\n\
         Call-ID: drain-{pid}@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:tester@{me}>\r\n\
         Content-Length: 0\r\n\r\n",
        pid = std::process::id()
    );
    s.send_to(msg.as_bytes(), ("127.0.0.1", sip)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.recv(&mut buf).expect("a response to the INVITE");
        let response = String::from_utf8_lossy(&buf[..n]).into_owned();
        let status: u16 = response[8..11].parse().unwrap();
        if status < 200 {
            continue;
        }
        // RFC 3261 §17.1.1.3: the ACK of a non-2xx, with the response's To (its tag);
        // without it voxgate's server transaction would wait for it (timer H).
        let to = response
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("to:"))
            .unwrap();
        let ack = format!(
            "ACK sip:2000@127.0.0.1:{sip} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bK-drain-{pid}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:tester@127.0.0.1>;tag=drain\r\n\
             {to}\r\n\
             Call-ID: drain-{pid}@127.0.0.1\r\n\
             CSeq: 1 ACK\r\n\
             Content-Length: 0\r\n\r\n",
            pid = std::process::id()
        );
        s.send_to(ack.as_bytes(), ("127.0.0.1", sip)).unwrap();
        return status;
    }
}

#[test]
fn sigterm_drains_a_call_in_progress_and_exits_right_after_its_bye() {
    let dir = Scratch::new("bye");
    let (sip, uas_port) = (free_udp_port(), free_udp_port());
    let file = dir.0.join("voxgate.toml");
    std::fs::write(&file, config(sip, uas_port, 60, media_min(0))).unwrap();
    let mut vox = start(&dir.0, &file);
    let _callee = uas(uas_port);
    std::thread::sleep(Duration::from_millis(300));
    // The caller hangs up 4 s after the answer.
    let mut caller = uac(sip, 4000);
    vox.wait_answered();

    let term = Instant::now();
    vox.signal("TERM");
    assert_eq!(vox.next_notify(), "STOPPING=1\nSTATUS=draining");
    // At once: not ready, and a new call is refused for another node to take.
    assert_eq!(vox.http("GET", "/readyz").0, 503);
    assert_eq!(invite_status(sip), 503);
    let (status, exited) = vox.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    // The caller's call ran to its end: its BYE was answered.
    let caller_status = caller.0.wait().unwrap();
    assert!(
        caller_status.success(),
        "the caller's call failed: {caller_status:?}"
    );
    let drained = exited - term;
    assert!(
        drained >= Duration::from_millis(2000),
        "exited {drained:?} after SIGTERM, before the call could end"
    );
    assert!(
        drained < Duration::from_secs(8),
        "exited {drained:?} after SIGTERM: it waited past the call's BYE"
    );
}

#[test]
fn sigterm_hangs_up_a_call_still_up_at_the_drain_limit() {
    let dir = Scratch::new("limit");
    let (sip, uas_port) = (free_udp_port(), free_udp_port());
    let file = dir.0.join("voxgate.toml");
    std::fs::write(&file, config(sip, uas_port, 1, media_min(100))).unwrap();
    let mut vox = start(&dir.0, &file);
    let _callee = uas(uas_port);
    std::thread::sleep(Duration::from_millis(300));
    let _caller = uac(sip, 60_000);
    vox.wait_answered();
    let term = Instant::now();
    vox.signal("TERM");
    vox.wait_log("draining");
    vox.wait_log("grace period over");
    let (status, exited) = vox.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    // 1 s of drain, then BYEs and at most the 2 s the core gives them.
    let drained = exited - term;
    assert!(
        drained >= Duration::from_millis(900) && drained < Duration::from_secs(5),
        "exited {drained:?} after SIGTERM"
    );
}

/// The unit file's `ExecReload` command, aimed at `admin`.
fn exec_reload(admin: SocketAddr) -> std::process::Output {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/voxgate.service"),
    )
    .unwrap();
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecReload="))
        .expect("an ExecReload line");
    // The unit's voxgatectl reads /etc/voxgate/voxgatectl.toml; here the environment says
    // where and with which token.
    let line = line.replace("/usr/bin/voxgatectl", env!("CARGO_BIN_EXE_voxgatectl"));
    Command::new("sh")
        .arg("-c")
        .arg(&line)
        .env("VOXGATE_ADMIN", admin.to_string())
        .env("VOXGATE_TOKEN", TOKEN)
        .output()
        .unwrap()
}

#[test]
fn a_reload_that_cannot_be_applied_is_refused_and_exec_reload_fails() {
    let dir = Scratch::new("reload");
    let (sip, uas_port) = (free_udp_port(), free_udp_port());
    let file = dir.0.join("voxgate.toml");
    let running = config(sip, uas_port, 60, media_min(200));
    std::fs::write(&file, &running).unwrap();
    let mut vox = start(&dir.0, &file);

    // A media region change: refused as a whole, the reason in ExecReload's output.
    let moved = running.replace(
        &format!("port_max = {}", media_min(200) + 99),
        &format!("port_max = {}", media_min(200) + 98),
    );
    assert_ne!(moved, running);
    std::fs::write(&file, &moved).unwrap();
    let out = exec_reload(vox.admin);
    assert!(
        !out.status.success(),
        "ExecReload succeeded on a refused reload"
    );
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("reload refused: [[media_region]] changed"),
        "{said}"
    );
    // The old config still runs: a call goes through.
    let _callee = uas(uas_port);
    std::thread::sleep(Duration::from_millis(300));
    let mut caller = uac(sip, 200);
    assert!(
        caller.0.wait().unwrap().success(),
        "a call after the refused reload failed"
    );

    // SIGHUP of an invalid file: RELOADING=1, then READY=1 with the refusal in STATUS.
    std::fs::write(&file, running.replace("[calls]", "[calls]\nnope = 1")).unwrap();
    vox.signal("HUP");
    let reloading = vox.next_notify();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    assert_eq!(
        vox.next_notify(),
        "READY=1\nSTATUS=running; the last reload was refused"
    );
    let metrics = vox.http("GET", "/metrics").1;
    assert!(
        metrics.contains("voxgate_config_reloads_total{result=\"error\"} 2"),
        "{metrics}"
    );
    // build.rs recorded the commit this checkout is at ("unknown" outside git).
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_owned(), |o| {
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
        });
    let build = format!(
        "voxgate_build_info{{commit=\"{commit}\",version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    assert!(metrics.contains(&build), "no {build} in\n{metrics}");

    // Put back: ExecReload succeeds.
    std::fs::write(&file, &running).unwrap();
    let out = exec_reload(vox.admin);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    vox.signal("TERM");
    let (status, _) = vox.wait_exit(Duration::from_secs(10));
    assert!(status.success());
}

#[test]
fn a_trunk_removed_by_a_reload_keeps_the_bye_of_its_call_in_progress() {
    let dir = Scratch::new("trunk");
    let (sip, uas_port) = (free_udp_port(), free_udp_port());
    let file = dir.0.join("voxgate.toml");
    // Callers on 127.0.0.1, the callee on 127.0.0.2: two trunks.
    let both = config(sip, uas_port, 60, media_min(300))
        .replace(
            "[[trunk]]\nname = \"loopback\"\nallow = [\"127.0.0.1/32\"]\n",
            "[[trunk]]\nname = \"callers\"\nallow = [\"127.0.0.1/32\"]\n\
             [[trunk]]\nname = \"loopback\"\nallow = [\"127.0.0.2/32\"]\n",
        )
        .replace("sip:127.0.0.1:{uas}", "sip:127.0.0.2:{uas}")
        .replace(
            &format!("sip:127.0.0.1:{uas_port}"),
            &format!("sip:127.0.0.2:{uas_port}"),
        );
    assert!(both.contains("name = \"callers\"") && both.contains("127.0.0.2:"));
    std::fs::write(&file, &both).unwrap();
    let vox = start(&dir.0, &file);
    let _callee = sipp(&[
        "-sn",
        "uas",
        "-i",
        "127.0.0.2",
        "-p",
        &uas_port.to_string(),
        "-m",
        "1",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let mut caller = uac(sip, 3000);
    vox.wait_answered();

    // The callers' trunk leaves the file while its call is up.
    let without = both.replace(
        "[[trunk]]\nname = \"callers\"\nallow = [\"127.0.0.1/32\"]\n",
        "",
    );
    assert_ne!(without, both);
    std::fs::write(&file, &without).unwrap();
    let (status, body) = vox.http("POST", "/reload");
    assert_eq!(status, 200, "{body}");
    // A new call from the removed trunk's address is refused...
    assert_eq!(invite_status(sip), 403);
    // ...but the call in progress ends normally: the caller's BYE got in and was answered.
    let caller_status = caller.0.wait().unwrap();
    assert!(
        caller_status.success(),
        "the caller's BYE was not answered: {caller_status:?}"
    );
}
