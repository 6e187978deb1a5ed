//! The validated runtime configuration that the other crates use. Nothing here is serde:
//! every value has been checked, defaults are filled in and paths are resolved.

use crate::headers::HeaderRules;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
pub use voxgate_media::play::{Country, Prompt};

/// A whole, validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where it came from: the file path, or `<embedded default>`.
    pub source: String,
    /// This node's identity.
    pub node: Node,
    /// The admin HTTP endpoint (metrics, health, reload).
    pub admin: Admin,
    /// Log output.
    pub logging: Logging,
    /// RFC 3261 §17 timer bases.
    pub timers: SipTimers,
    /// Hard limits on SIP input.
    pub limits: SipLimits,
    /// SIP listeners (at least one; no two collide).
    pub listeners: Vec<Listener>,
    /// Trunks; allow-lists of two trunks never overlap.
    pub trunks: Vec<Trunk>,
    /// Media regions (RTP address and port pools).
    pub media_regions: Vec<MediaRegion>,
    /// Call routes, in file order.
    pub routes: Vec<Route>,
    /// Call handling timers and limits (`[calls]`).
    pub calls: Calls,
    /// Call detail records; `None` = no CDR file.
    pub cdr: Option<Cdr>,
    /// HEP v3 export of SIP messages to a Homer collector; `None` = off.
    pub hep: Option<Hep>,
    /// The third-party call-control API; `None` = no API listener.
    pub api: Option<Api>,
    /// Prompts and tones (`[media]`, `[[prompt]]`).
    pub media: Media,
    /// Protection of the SIP listeners from floods and scanners (`[protection]`).
    pub protection: Protection,
    /// When kill switches turn themselves off (`[kill_switch]`); `None`: never, only by
    /// an operator.
    pub kill_switch: Option<KillSwitch>,
    /// Where destination names are resolved (`[dns]`).
    pub dns: Dns,
    /// Entry points (`[[entry_point]]`), in file order.
    pub entry_points: Vec<crate::flow::EntryPoint>,
    /// Flows (`[[flow]]`), in file order.
    pub flows: Vec<crate::flow::Flow>,
    /// Sites (`[[site]]`).
    pub sites: Vec<crate::routing::Site>,
    /// Teams (`[[team]]`).
    pub teams: Vec<crate::routing::Team>,
    /// Agents (`[[agent]]`), in file order.
    pub agents: Vec<crate::routing::Agent>,
    /// Queues (`[[queue]]`), in file order.
    pub queues: Vec<crate::routing::Queue>,
}

/// Where destination names are resolved (`[dns]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dns {
    /// The name servers to ask, in order; empty = those of the system's
    /// resolv.conf.
    pub name_servers: Vec<SocketAddr>,
}

impl Config {
    /// The trunk whose allow-list holds `ip` (allow-lists never overlap, so at most one).
    ///
    /// A linear scan over every CIDR of every trunk: fine for tens of trunks. Because
    /// validation guarantees that no address matches two trunks, this can become a
    /// longest-prefix trie (or a sorted vector of disjoint ranges, binary-searched) built
    /// once at load, without changing the answer or this signature.
    pub fn trunk_for(&self, ip: IpAddr) -> Option<&Trunk> {
        let find = |ip: IpAddr| {
            self.trunks
                .iter()
                .find(|t| t.allow.iter().any(|net| net.contains(&ip)))
        };
        // A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6 (::ffff:a.b.c.d);
        // those match the IPv4 allow-lists unless a v6 CIDR names them explicitly.
        find(ip).or_else(|| match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().and_then(|v4| find(IpAddr::V4(v4))),
            IpAddr::V4(_) => None,
        })
    }

    /// The trunk called `name`.
    pub fn trunk(&self, name: &TrunkName) -> Option<&Trunk> {
        self.trunks.iter().find(|t| &t.name == name)
    }

    /// The entry point a call enters: the one whose `numbers` hold the dialled number
    /// (normalised), else the one whose `trunks` hold its trunk.
    pub fn entry_point(
        &self,
        trunk: &TrunkName,
        number: Option<&str>,
    ) -> Option<&crate::flow::EntryPoint> {
        let by_number = number.and_then(|n| {
            self.entry_points
                .iter()
                .find(|e| e.numbers.iter().any(|x| x == n))
        });
        by_number.or_else(|| {
            self.entry_points
                .iter()
                .find(|e| e.trunks.iter().any(|t| t == trunk))
        })
    }

    /// The flow called `name`.
    pub fn flow(&self, name: &str) -> Option<&crate::flow::Flow> {
        self.flows.iter().find(|f| f.name == name)
    }

    /// The queue called `name`.
    pub fn queue(&self, name: &str) -> Option<&crate::routing::Queue> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// The agent called `name`.
    pub fn agent(&self, name: &str) -> Option<&crate::routing::Agent> {
        self.agents.iter().find(|a| a.name == name)
    }

    /// The media region called `name`.
    pub fn media_region(&self, name: &str) -> Option<&MediaRegion> {
        self.media_regions.iter().find(|r| r.name == name)
    }

    /// The prompt called `name`.
    pub fn prompt(&self, name: &str) -> Option<&Prompt> {
        self.media
            .prompts
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.prompt)
    }
}

/// Protection from floods and scanners (`[protection]`): per-source token buckets with
/// escalating bans for sources in no trunk's allow-list, and silence for scanners.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protection {
    /// Packets (datagrams and connection attempts) per second per unlisted IP address.
    pub source_rate: u32,
    /// The burst an unlisted IP address may send at once (the bucket's size).
    pub source_burst: u32,
    /// Packets per second per unlisted /24 (IPv4) or /64 (IPv6).
    pub prefix_rate: u32,
    /// The burst of a /24 or /64.
    pub prefix_burst: u32,
    /// How long a first ban lasts; each further ban of the same source doubles it.
    pub ban: Duration,
    /// The longest ban; a source that stayed quiet this long after its ban ended starts again at `ban`.
    pub ban_max: Duration,
    /// Sources (addresses and prefixes) tracked at most.
    pub max_sources: u32,
    /// Repeated refusals from one source are logged once per interval, with a count.
    pub log_interval: Duration,
    /// Case-insensitive User-Agent substrings that mark a request as a scanner's (silence).
    pub scanner_user_agents: Vec<String>,
    /// Overload begins when the signalling loop was busy this share of a window (per cent).
    pub overload_busy_percent: u32,
    /// ... and ends (as far as busy goes) when a window's share is at most this.
    pub overload_busy_clear_percent: u32,
    /// Overload begins when this many inputs (received messages, conversations' actions)
    /// wait for the signalling loop.
    pub overload_queue: usize,
    /// ... and ends (as far as the queue goes) when at most this many wait.
    pub overload_queue_clear: usize,
    /// The window over which the busy share is measured.
    pub overload_window: Duration,
    /// The `Retry-After` (seconds) of the 503 that refuses a new call in overload.
    pub overload_retry_after: u32,
}

/// The default scanner User-Agent patterns: SIPVicious (svmap, svwar, svcrack say
/// "friendly-scanner" by default), sipsak, sipcli, SundayDDR, iWar and sip-scan.
pub const DEFAULT_SCANNER_USER_AGENTS: &[&str] = &[
    "friendly-scanner",
    "sipvicious",
    "sipsak",
    "sipcli",
    "sundayddr",
    "iwar",
    "sip-scan",
];

impl Default for Protection {
    /// The documented defaults of `[protection]`.
    fn default() -> Self {
        Protection {
            source_rate: 20,
            source_burst: 100,
            prefix_rate: 100,
            prefix_burst: 500,
            ban: Duration::from_secs(60),
            ban_max: Duration::from_secs(3600),
            max_sources: 65_536,
            log_interval: Duration::from_secs(60),
            scanner_user_agents: DEFAULT_SCANNER_USER_AGENTS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            overload_busy_percent: 90,
            overload_busy_clear_percent: 70,
            overload_queue: 4096,
            overload_queue_clear: 512,
            overload_window: Duration::from_millis(1000),
            overload_retry_after: 5,
        }
    }
}

/// What voxgate plays (`[media]` and `[[prompt]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// The country whose call-progress tones are played by name.
    pub tone_profile: Country,
    /// Every prompt, decoded once at load (from `[[prompt]]` and `prompts_dir`).
    pub prompts: Vec<NamedPrompt>,
    /// Where recordings are written (an existing, writable folder, absolute);
    /// `None`: recording is off (a `Record` command is refused).
    pub recordings_dir: Option<PathBuf>,
}

impl Default for Media {
    fn default() -> Self {
        Media {
            tone_profile: Country::Us,
            prompts: Vec::new(),
            recordings_dir: None,
        }
    }
}

/// A prompt and the name commands play it by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedPrompt {
    /// Its name.
    pub name: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// Its audio, 8 kHz linear PCM.
    pub prompt: Prompt,
}

/// This node's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Node name, `[A-Za-z0-9._-]{1,64}`; appears in logs, metrics and CDRs.
    pub name: String,
    /// The media region this node anchors RTP in; names a [`MediaRegion`].
    pub region: String,
}

/// When a capability's kill switch turns itself off: `error_percent` of at least
/// `min_attempts` attempts in the last `window` failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillSwitch {
    /// Failed attempts over all attempts, in percent (1..=100).
    pub error_percent: u32,
    /// The sliding window the attempts are counted over.
    pub window: std::time::Duration,
    /// Attempts in the window before the switch may trip.
    pub min_attempts: u32,
}

/// The admin HTTP endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admin {
    /// Address of the admin API: `/metrics`, `/healthz` and `/readyz` without a token,
    /// everything else (reload, calls, trunks, bans, drain, kill switches) with one.
    pub listen: SocketAddr,
    /// A second address serving only `/metrics`, `/healthz` and `/readyz` (for a
    /// scraper or a load balancer that must not reach the admin API).
    pub public_listen: Option<SocketAddr>,
    /// The bearer tokens the admin API accepts, by their SHA-256 (the scheme of
    /// `[api] tokens`). None configured: only the three open paths answer.
    pub tokens: Vec<ApiToken>,
}

/// Log output settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logging {
    /// Human-readable or JSON lines.
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive, e.g. `info,voxgate_sip=debug`.
    pub level: String,
    /// Whether caller and callee numbers are redacted in logs.
    pub redact_numbers: bool,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    Pretty,
    /// One JSON object per line, for a log pipeline.
    Json,
}

/// RFC 3261 §17 timer bases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SipTimers {
    /// T1, the RTT estimate (default 500 ms).
    pub t1: Duration,
    /// T2, the maximum retransmit interval for non-INVITE requests and INVITE responses (>= T1).
    pub t2: Duration,
    /// T4, the maximum time a message stays in the network.
    pub t4: Duration,
}

/// Hard limits on SIP input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SipLimits {
    /// Largest SIP message accepted, in bytes.
    pub max_message_size: usize,
    /// Most header fields accepted in one message.
    pub max_headers: usize,
    /// Close idle TCP/TLS connections after this long; `None` = never.
    pub connection_idle_timeout: Option<Duration>,
    /// Accepted TCP/TLS connections open at once, from all sources.
    pub max_connections: usize,
    /// Accepted TCP/TLS connections open at once from one IP address.
    pub max_connections_per_source: usize,
    /// TLS handshake limit (accepted and opened connections).
    pub tls_handshake_timeout: Duration,
    /// A TCP/TLS message must arrive whole within this time of its first byte.
    pub message_timeout: Duration,
}

/// A SIP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListenerTransport {
    /// SIP over UDP.
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS (over TCP).
    Tls,
}

impl ListenerTransport {
    /// The lowercase name used in the file (`udp`, `tcp`, `tls`).
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerTransport::Udp => "udp",
            ListenerTransport::Tcp => "tcp",
            ListenerTransport::Tls => "tls",
        }
    }

    /// True for transports that run over a TCP socket (tcp and tls share the port space).
    pub fn is_stream(self) -> bool {
        !matches!(self, ListenerTransport::Udp)
    }
}

impl fmt::Display for ListenerTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SIP listening socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// Transport protocol.
    pub transport: ListenerTransport,
    /// Address and port to bind.
    pub address: SocketAddr,
    /// SO_RCVBUF in bytes; `None` = OS default.
    pub recv_buffer: Option<usize>,
    /// SO_SNDBUF in bytes; `None` = OS default.
    pub send_buffer: Option<usize>,
    /// TLS settings; `Some` exactly when `transport` is TLS.
    pub tls: Option<TlsFiles>,
    /// The address to put in Via and Contact instead of `address`'s IP (behind NAT); of
    /// the same family as `address`, never unspecified. Always set when `address` is a
    /// wildcard (0.0.0.0 or ::).
    pub advertise: Option<IpAddr>,
}

impl Listener {
    /// The address peers should send to: `advertise` (or `address`'s IP) with `address`'s
    /// port. With port 0 the OS picks the port at bind time; the caller then substitutes
    /// the bound port.
    pub fn advertised(&self) -> SocketAddr {
        SocketAddr::new(
            self.advertise.unwrap_or(self.address.ip()),
            self.address.port(),
        )
    }
}

/// Certificate files of a TLS listener, resolved against the config file's folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// (certificate chain PEM, private key PEM); `None` = generate a self-signed one at start.
    pub certificate: Option<(PathBuf, PathBuf)>,
    /// CA bundle PEM; when set, clients must present a certificate it verifies (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// A trunk's name, `[A-Za-z0-9._-]{1,64}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrunkName(pub(crate) String);

impl TrunkName {
    /// A trunk name, if `name` has the allowed form `[A-Za-z0-9._-]{1,64}`.
    pub fn new(name: impl Into<String>) -> Option<Self> {
        let name = name.into();
        is_valid_name(&name).then_some(TrunkName(name))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrunkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TrunkName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// True if `name` is 1 to 64 of `[A-Za-z0-9._-]` (node, trunk, region and route names).
pub(crate) fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A trunk: a set of peers identified by source address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trunk {
    /// Unique name.
    pub name: TrunkName,
    /// Source networks that belong to this trunk (v4 and v6, host bits clear).
    pub allow: Vec<IpNet>,
    /// Transports this trunk may use (no duplicates).
    pub transports: Vec<ListenerTransport>,
    /// Name to verify in the peer's certificate on outbound TLS to this trunk.
    pub tls_peer_name: Option<String>,
    /// The listener address (as configured) our requests to this trunk leave
    /// from and that Via and Contact name, for each transport with a listener
    /// there; `None` = the first listener of the transport and address family.
    pub listener: Option<SocketAddr>,
    /// The IP address Via and Contact name on this trunk's legs, in place of
    /// the listener's (a trunk reached through its own NAT or interconnect);
    /// on legs of the other address family the listener's is kept.
    pub advertise: Option<IpAddr>,
    /// The media region calls of this trunk are anchored in (names a [`MediaRegion`];
    /// `[node] region` unless the trunk says otherwise).
    pub media_region: String,
    /// Most concurrent inbound calls from this trunk; `None` = unlimited.
    pub max_calls: Option<u32>,
    /// Most new inbound calls per second (token bucket, burst `max(1, max_cps)`);
    /// `None` = unlimited.
    pub max_cps: Option<u32>,
    /// How numbers arriving on this trunk are normalised to E.164; `None` = used as sent.
    pub numbering: Option<Numbering>,
    /// The codecs allowed on legs of this trunk, in order of preference
    /// (names as in `a=rtpmap`, spelt as in [`KNOWN_CODECS`](crate::KNOWN_CODECS)):
    /// what voxgate offers and accepts as their user agent, and what may
    /// pass to and from them on a linked call.
    pub codecs: Vec<String>,
    /// The trunk names `codecs`: what passes to and from its legs on a linked
    /// call is held to that list. Without it, linked calls carry whatever the
    /// two ends agree on, unchanged (voxgate's own offers and answers use the
    /// default list either way).
    pub codec_policy: bool,
    /// Who decides this trunk's inbound calls: [`Control::Api`] takes them all to the
    /// API, whatever route they match.
    pub control: Control,
    /// SDES-SRTP on this trunk's legs: voxgate terminates it per leg.
    pub srtp: SrtpMode,
    /// The SRTP suites offered (in this order) and accepted on this trunk's legs.
    pub srtp_suites: Vec<SrtpSuite>,
    /// OPTIONS keep-alive of the route destinations of this trunk; `None` = none
    /// (a destination may ask for its own).
    pub keepalive: Option<Keepalive>,
    /// The status new inbound calls get while an operator has put the trunk out of
    /// service (default 503).
    pub out_of_service_status: u16,
    /// The trunk is in voxgate's trust domain (RFC 3325 §2.3, "Spec(T)"): the
    /// P-Asserted-Identity, Privacy, Diversion and History-Info it sends are
    /// believed and passed on; from any other trunk they are removed. Towards
    /// it, a `Privacy: id` caller's identity is passed on; towards any other
    /// trunk the asserted identity is removed and the From made anonymous.
    pub trusted: bool,
    /// Header rules for what arrives from this trunk (`[trunk.inbound]`): applied to
    /// the headers its calls carry across to the other leg.
    pub inbound: HeaderRules,
    /// Header rules for what voxgate sends to this trunk (`[trunk.outbound]`).
    pub outbound: HeaderRules,
    /// What voxgate answers this trunk's digest challenges (401/407) with;
    /// `None` = a challenge fails the request.
    pub credentials: Option<Credentials>,
    /// How the trunk's new calls are authenticated beyond its allow-list.
    pub auth: TrunkAuth,
    /// Outbound registration with the trunk's registrar; `None` = none.
    pub register: Option<Register>,
}

/// A trunk's outbound registration (`register = { ... }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Register {
    /// The registrar's URI (`sip:` or `sips:`), the REGISTER's Request-URI.
    pub registrar: String,
    /// The transport to reach it.
    pub transport: ListenerTransport,
    /// The user registered (To and From `sip:user@registrar-host`, and our Contact's user).
    pub user: String,
    /// The binding's lifetime asked for (`Expires`).
    pub expires: Duration,
}

/// How a trunk's INVITEs are authenticated (`auth`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrunkAuth {
    /// By source address only (the allow-list).
    #[default]
    Address,
    /// By source address and digest (RFC 3261 §22): an INVITE without valid
    /// credentials (`credentials` user and password, in its realm) gets 401.
    Digest,
}

/// A trunk's digest credentials (`credentials = { ... }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password, read from `password_file` or `password_env` at load.
    pub password: Secret,
    /// Only challenges of this realm are answered; `None` = any realm. With
    /// `auth = "digest"`, the realm of our own challenges.
    pub realm: Option<String>,
    /// With `auth = "digest"`: our challenges, one per algorithm, the
    /// preferred first (default SHA-256, MD5).
    pub algorithms: Vec<DigestAlgorithm>,
}

/// A digest algorithm (RFC 8760) a trunk is challenged with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// `SHA-512-256`.
    Sha512_256,
    /// `SHA-256`.
    Sha256,
    /// `MD5`.
    Md5,
}

impl DigestAlgorithm {
    /// Every algorithm, strongest first.
    pub const ALL: [DigestAlgorithm; 3] = [
        DigestAlgorithm::Sha512_256,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Md5,
    ];

    /// The name used in the file and in `algorithm=`.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha512_256 => "SHA-512-256",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Md5 => "MD5",
        }
    }
}

/// A secret read at load (a password): never printed, wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: String) -> Secret {
        Secret(zeroize::Zeroizing::new(value))
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// OPTIONS keep-alive of a destination (`keepalive = { ... }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Time between two OPTIONS; one not answered by then counts as failed.
    pub interval: Duration,
    /// Failed probes in a row that mark a destination down.
    pub down_after: u32,
    /// Answered probes in a row that mark a down destination up again.
    pub up_after: u32,
}

/// SDES-SRTP on a trunk's legs (`srtp`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SrtpMode {
    /// Plain RTP only: an `RTP/SAVP` offer gets 488.
    #[default]
    Off,
    /// SRTP when the peer offers or accepts it; our offers are `RTP/AVP` with
    /// `a=crypto` (best effort).
    Optional,
    /// SRTP only: our offers are `RTP/SAVP`; a plain offer gets 488.
    Required,
}

impl SrtpMode {
    /// The name used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            SrtpMode::Off => "off",
            SrtpMode::Optional => "optional",
            SrtpMode::Required => "required",
        }
    }
}

/// An SRTP crypto suite a trunk may name (`srtp_suites`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 4568).
    AesCm128HmacSha1_80,
    /// `AEAD_AES_128_GCM` (RFC 7714).
    AeadAes128Gcm,
    /// `AES_CM_128_HMAC_SHA1_32` (RFC 4568).
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    /// Every suite, in the default order offered.
    pub const ALL: [SrtpSuite; 3] = [
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AeadAes128Gcm,
        SrtpSuite::AesCm128HmacSha1_32,
    ];

    /// The name in the file and in `a=crypto`.
    pub fn as_str(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }
}

/// A trunk's national numbering plan, for normalising its numbers to E.164.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Numbering {
    /// The country calling code without `+`: 1 to 3 digits, not starting with 0 (`44`).
    pub country_code: String,
    /// The trunk prefix dialled before a national number (`0`), if the plan has one.
    pub national_prefix: Option<String>,
    /// The prefix dialled before an international number (`00`, `011`), if any.
    pub international_prefix: Option<String>,
}

/// A media region: the addresses and port range RTP is anchored on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRegion {
    /// Unique name.
    pub name: String,
    /// Addresses to bind RTP sockets on: at most one per family.
    pub addresses: Vec<IpAddr>,
    /// Addresses to put in SDP instead of the bound one of the same family
    /// (NAT, cloud hosts, wildcard binds); at most one per family.
    pub advertise: Vec<IpAddr>,
    /// First port (even).
    pub port_min: u16,
    /// Last port (> `port_min`).
    pub port_max: u16,
}

impl MediaRegion {
    /// What SDP says for sockets bound on `bind`: the advertised address of
    /// its family, or `bind` itself.
    pub fn advertised(&self, bind: IpAddr) -> IpAddr {
        self.advertise
            .iter()
            .copied()
            .find(|a| a.is_ipv4() == bind.is_ipv4())
            .unwrap_or(bind)
    }
}

/// A call route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Unique name.
    pub name: String,
    /// Which request-URI users this route takes.
    pub match_user: UserMatch,
    /// Where to send the call, tried in order (with [`Control::Api`]: only when no API
    /// client is connected; may be empty then).
    pub destinations: Vec<Destination>,
    /// Only calls that came in on this trunk take the route; `None` = calls from any trunk.
    pub trunk: Option<TrunkName>,
    /// Whether a 3xx from a destination is followed (its Contact tried next).
    pub follow_redirects: bool,
    /// Ring every destination at once (the first answer wins) instead of in order.
    pub parallel: bool,
    /// How long each attempt may ring; `None` = [`Calls::ring_timeout`].
    pub ring_timeout: Option<Duration>,
    /// Who decides the calls this route takes.
    pub control: Control,
}

/// Who decides a call (`control` of a route or a trunk).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Control {
    /// The static router: the route's destinations, in order.
    #[default]
    Static,
    /// The third-party call-control API (`[api]`); with no API client connected, the
    /// route's destinations if it has any, else a reject with `[api] no_client_status`.
    Api,
}

impl Control {
    /// The name used in the file (`static`, `api`).
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Static => "static",
            Control::Api => "api",
        }
    }
}

/// How a route matches the called user.
#[derive(Clone, Debug)]
pub enum UserMatch {
    /// The user equals this string.
    Exact(String),
    /// The user starts with this string (`""` matches every call).
    Prefix(String),
    /// The user matches this compiled regular expression anywhere (unanchored: the pattern
    /// says `^...$` to match the whole user).
    Regex(regex::Regex),
}

impl UserMatch {
    /// Whether the called user `user` takes this match.
    pub fn matches(&self, user: &str) -> bool {
        match self {
            UserMatch::Exact(s) => user == s,
            UserMatch::Prefix(p) => user.starts_with(p.as_str()),
            UserMatch::Regex(r) => r.is_match(user),
        }
    }
}

/// Regexes compare by pattern text: two routes with the same pattern match the same users.
impl PartialEq for UserMatch {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (UserMatch::Exact(a), UserMatch::Exact(b)) => a == b,
            (UserMatch::Prefix(a), UserMatch::Prefix(b)) => a == b,
            (UserMatch::Regex(a), UserMatch::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Eq for UserMatch {}

/// Call handling timers and limits (`[calls]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calls {
    /// No RTP or RTCP for this long (while not on hold) ends the call; `None` = never.
    pub media_timeout: Option<Duration>,
    /// How long an outbound attempt may ring, unless its route says otherwise.
    pub ring_timeout: Duration,
    /// An attempt with no response at all (not even 100 Trying) in this time is abandoned
    /// and the next destination tried; `None` = wait for timer B (64*T1).
    pub trying_timeout: Option<Duration>,
    /// The RFC 4028 session interval asked for and accepted; `None` = session timers off.
    pub session_expires: Option<Duration>,
    /// The RFC 4028 Min-SE (at most `session_expires`).
    pub min_se: Duration,
    /// Max-Forwards on outbound legs.
    pub max_forwards: u32,
    /// On SIGTERM, how long calls in progress may go on before voxgate hangs them up.
    pub drain_timeout: Duration,
}

impl Default for Calls {
    /// The documented defaults of `[calls]`.
    fn default() -> Self {
        Calls {
            media_timeout: Some(Duration::from_secs(60)),
            ring_timeout: Duration::from_secs(60),
            trying_timeout: Some(Duration::from_millis(4000)),
            session_expires: Some(Duration::from_secs(1800)),
            min_se: Duration::from_secs(90),
            max_forwards: 70,
            drain_timeout: Duration::from_secs(300),
        }
    }
}

/// Call detail records (`[cdr]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cdr {
    /// The JSON-lines file CDRs are appended to (absolute; its folder existed at load).
    pub path: PathBuf,
    /// Whether numbers in CDRs are redacted with [`crate::redact_number`].
    pub redact_numbers: bool,
}

/// HEP v3 capture export (`[hep]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hep {
    /// The collector's UDP address.
    pub address: SocketAddr,
    /// The capture agent id the packets carry.
    pub capture_id: u32,
}

/// The third-party call-control API (`[api]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Api {
    /// Address of its HTTP/WebSocket listener.
    pub listen: SocketAddr,
    /// The status an API-controlled call without destinations is rejected with while no
    /// API client follows the events (4xx–6xx; default 480).
    pub no_client_status: u16,
    /// The bearer tokens it accepts (at least one), by the SHA-256 of the token.
    pub tokens: Vec<ApiToken>,
}

/// One bearer token of the API: only its SHA-256 is configured, never the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    /// Who holds it (logs and metrics name the holder, never the token).
    pub name: String,
    /// The SHA-256 of the token.
    pub sha256: [u8; 32],
}

/// One place to send a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// A `sip:` or `sips:` URI.
    pub uri: String,
    /// Transport to use (default udp for `sip:`, tls for `sips:`).
    pub transport: ListenerTransport,
    /// Trunk whose policy applies to this leg, if any.
    pub trunk: Option<TrunkName>,
    /// Its own OPTIONS keep-alive (else its trunk's, if any).
    pub keepalive: Option<Keepalive>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(TrunkName::new("carrier-a.eu_1").is_some());
        assert!(TrunkName::new("").is_none());
        assert!(TrunkName::new("a b").is_none());
        assert!(TrunkName::new("x".repeat(65)).is_none());
        assert!(TrunkName::new("x".repeat(64)).is_some());
    }
}
