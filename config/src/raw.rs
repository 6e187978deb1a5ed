//! The file as serde sees it: private, spanned, and as loose as the TOML types allow.
//!
//! Required keys are `Option` and numbers are `i64` on purpose: missing keys and
//! out-of-range numbers are reported by `validate`, which collects every error, whereas a
//! serde error stops deserialization at the first one. Only the shape (unknown keys, wrong
//! TOML types, unknown transport names) is left to serde.

use serde::Deserialize;
use toml::Spanned;

pub(crate) type S<T> = Spanned<T>;
pub(crate) type List<T> = Spanned<Vec<Spanned<T>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub node: Option<S<RawNode>>,
    pub admin: Option<S<RawAdmin>>,
    pub logging: Option<S<RawLogging>>,
    pub sip: Option<S<RawSip>>,
    pub listener: Option<List<RawListener>>,
    pub trunk: Option<List<RawTrunk>>,
    pub media_region: Option<List<RawMediaRegion>>,
    pub route: Option<List<RawRoute>>,
    pub calls: Option<S<RawCalls>>,
    pub cdr: Option<S<RawCdr>>,
    pub hep: Option<S<RawHep>>,
    pub api: Option<S<RawApi>>,
    pub media: Option<S<RawMedia>>,
    pub prompt: Option<List<RawPrompt>>,
    pub protection: Option<S<RawProtection>>,
    pub dns: Option<S<RawDns>>,
    pub kill_switch: Option<S<RawKillSwitch>>,
    pub entry_point: Option<List<RawEntryPoint>>,
    pub flow: Option<List<RawFlow>>,
    pub include: Option<List<String>>,
    pub site: Option<List<RawSite>>,
    pub team: Option<List<RawTeam>>,
    pub agent: Option<List<RawAgent>>,
    pub queue: Option<List<RawQueue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSite {
    pub name: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTeam {
    pub name: Option<S<String>>,
    pub site: Option<S<String>>,
}

pub(crate) type RawSkills = S<std::collections::BTreeMap<String, S<i64>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgent {
    pub name: Option<S<String>>,
    pub teams: Option<List<String>>,
    pub skills: Option<RawSkills>,
    pub dial: Option<S<RawDestination>>,
    pub ring_timeout_s: Option<S<i64>>,
    pub wrap_up_s: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawQueue {
    pub name: Option<S<String>>,
    pub strategy: Option<S<String>>,
    pub groups: Option<List<RawDistributionGroup>>,
    pub skills: Option<RawSkills>,
    pub music: Option<S<String>>,
    pub max_wait_s: Option<S<i64>>,
    pub ageing_s: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDistributionGroup {
    pub teams: Option<List<String>>,
    pub after_s: Option<S<i64>>,
}

/// A file the main one includes: entry points and flows only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInclude {
    pub entry_point: Option<List<RawEntryPoint>>,
    pub flow: Option<List<RawFlow>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEntryPoint {
    pub name: Option<S<String>>,
    pub numbers: Option<List<String>>,
    pub trunks: Option<List<String>>,
    pub flow: Option<S<String>>,
    pub time_zone: Option<S<String>>,
    pub queue: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlow {
    pub name: Option<S<String>>,
    pub start: Option<S<String>>,
    pub on_error: Option<S<String>>,
    pub variable: Option<List<RawFlowVariable>>,
    pub node: Option<List<RawFlowNode>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlowVariable {
    pub name: Option<S<String>>,
    #[serde(rename = "type")]
    pub kind: Option<S<String>>,
    pub default: Option<S<String>>,
    pub sensitive: Option<S<bool>>,
}

/// Every parameter of every node kind: which ones a kind takes is checked by
/// `validate::flows`, which names the allowed ones for that kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFlowNode {
    pub id: Option<S<String>>,
    pub kind: Option<S<String>>,
    pub outputs: Option<S<std::collections::BTreeMap<String, S<String>>>>,
    pub prompts: Option<List<String>>,
    pub prompt: Option<S<String>>,
    pub invalid_prompt: Option<S<String>>,
    pub timeout_s: Option<S<i64>>,
    pub retries: Option<S<i64>>,
    pub variable: Option<S<String>>,
    pub min: Option<S<i64>>,
    pub max: Option<S<i64>>,
    pub terminator: Option<S<String>>,
    pub first_timeout_s: Option<S<i64>>,
    pub inter_digit_timeout_s: Option<S<i64>>,
    pub value: Option<S<String>>,
    pub expression: Option<S<String>>,
    pub node: Option<S<String>>,
    pub flow: Option<S<String>>,
    pub number: Option<S<String>>,
    pub hours: Option<List<String>>,
    pub holidays: Option<List<String>>,
    pub force: Option<S<String>>,
    pub queue: Option<S<String>>,
    pub priority: Option<S<i64>>,
    pub skills: Option<RawSkills>,
    pub max_wait_s: Option<S<i64>>,
    pub position: Option<S<String>>,
    pub estimated_wait: Option<S<String>>,
    pub available_agents: Option<S<String>>,
    pub agent: Option<S<String>>,
    pub music: Option<S<String>>,
    pub duration_s: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKillSwitch {
    pub error_percent: Option<S<i64>>,
    pub window_s: Option<S<i64>>,
    pub min_attempts: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDns {
    pub name_servers: Option<List<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNode {
    pub name: Option<S<String>>,
    pub region: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub listen: Option<S<String>>,
    pub public_listen: Option<S<String>>,
    pub tokens: Option<List<RawApiToken>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLogging {
    pub format: Option<S<RawLogFormat>>,
    pub level: Option<S<String>>,
    pub redact_numbers: Option<S<bool>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawLogFormat {
    Pretty,
    Json,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSip {
    pub timers: Option<S<RawTimers>>,
    pub limits: Option<S<RawLimits>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimers {
    pub t1_ms: Option<S<i64>>,
    pub t2_ms: Option<S<i64>>,
    pub t4_ms: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    pub max_message_size: Option<S<i64>>,
    pub max_headers: Option<S<i64>>,
    pub connection_idle_timeout_s: Option<S<i64>>,
    pub max_connections: Option<S<i64>>,
    pub max_connections_per_source: Option<S<i64>>,
    pub tls_handshake_timeout_s: Option<S<i64>>,
    pub message_timeout_s: Option<S<i64>>,
}

/// The transport names of the file; a tagged enum so that serde rejects anything else.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawTransport {
    Udp,
    Tcp,
    Tls,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListener {
    pub transport: Option<S<RawTransport>>,
    pub address: Option<S<String>>,
    pub recv_buffer: Option<S<i64>>,
    pub send_buffer: Option<S<i64>>,
    pub certificate: Option<S<String>>,
    pub private_key: Option<S<String>>,
    pub client_ca: Option<S<String>>,
    pub advertise: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrunk {
    pub name: Option<S<String>>,
    pub allow: Option<List<String>>,
    pub transports: Option<List<RawTransport>>,
    pub tls_peer_name: Option<S<String>>,
    pub listener: Option<S<String>>,
    pub advertise: Option<S<String>>,
    pub media_region: Option<S<String>>,
    pub max_calls: Option<S<i64>>,
    pub max_cps: Option<S<i64>>,
    pub numbering: Option<S<RawNumbering>>,
    pub codecs: Option<List<String>>,
    pub control: Option<S<RawControl>>,
    pub srtp: Option<S<RawSrtp>>,
    pub srtp_suites: Option<List<String>>,
    pub keepalive: Option<S<RawKeepalive>>,
    pub out_of_service_status: Option<S<i64>>,
    pub trusted: Option<S<bool>>,
    pub credentials: Option<S<RawCredentials>>,
    pub auth: Option<S<RawAuth>>,
    pub register: Option<S<RawRegister>>,
    pub inbound: Option<S<RawHeaderRules>>,
    pub outbound: Option<S<RawHeaderRules>>,
}

/// Header name to value (a template), in name order.
pub(crate) type HeaderMap = S<std::collections::BTreeMap<S<String>, S<String>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHeaderRules {
    pub keep_only: Option<List<String>>,
    pub remove: Option<List<String>>,
    pub rewrite: Option<HeaderMap>,
    pub add: Option<HeaderMap>,
    pub pai: Option<S<String>>,
    pub privacy: Option<S<String>>,
    pub caller_id: Option<S<RawCallerId>>,
    pub pass: Option<List<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRegister {
    pub registrar: Option<S<String>>,
    pub transport: Option<S<RawTransport>>,
    pub user: Option<S<String>>,
    pub expires_s: Option<S<i64>>,
}

/// How a trunk's own requests are authenticated: a tagged enum so that serde rejects
/// anything else.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawAuth {
    Address,
    Digest,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCredentials {
    pub username: Option<S<String>>,
    pub password_file: Option<S<String>>,
    pub password_env: Option<S<String>>,
    pub realm: Option<S<String>>,
    pub algorithms: Option<List<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCallerId {
    pub e164_country_code: Option<S<String>>,
    pub strip_prefix: Option<S<String>>,
    pub add_prefix: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKeepalive {
    pub interval_s: Option<S<i64>>,
    pub down_after: Option<S<i64>>,
    pub up_after: Option<S<i64>>,
}

/// A trunk's SRTP mode: a tagged enum so that serde rejects anything else.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawSrtp {
    Off,
    Optional,
    Required,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNumbering {
    pub country_code: Option<S<String>>,
    pub national_prefix: Option<S<String>>,
    pub international_prefix: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMediaRegion {
    pub name: Option<S<String>>,
    pub addresses: Option<List<String>>,
    pub advertise: Option<List<String>>,
    pub port_min: Option<S<i64>>,
    pub port_max: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub name: Option<S<String>>,
    pub match_user: Option<S<RawUserMatch>>,
    pub destinations: Option<List<RawDestination>>,
    pub trunk: Option<S<String>>,
    pub follow_redirects: Option<S<bool>>,
    pub parallel: Option<S<bool>>,
    pub ring_timeout_s: Option<S<i64>>,
    pub control: Option<S<RawControl>>,
}

/// Who decides a call: a tagged enum so that serde rejects anything else.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawControl {
    Static,
    Api,
}

/// `{ exact = ".." } | { prefix = ".." } | { regex = ".." }`: a struct rather than an
/// externally tagged enum, so that "two given" and "none given" get a clear error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUserMatch {
    pub exact: Option<S<String>>,
    pub prefix: Option<S<String>>,
    pub regex: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDestination {
    pub uri: Option<S<String>>,
    pub transport: Option<S<RawTransport>>,
    pub trunk: Option<S<String>>,
    pub keepalive: Option<S<RawKeepalive>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCalls {
    pub media_timeout_s: Option<S<i64>>,
    pub ring_timeout_s: Option<S<i64>>,
    pub trying_timeout_ms: Option<S<i64>>,
    pub session_expires_s: Option<S<i64>>,
    pub min_se_s: Option<S<i64>>,
    pub max_forwards: Option<S<i64>>,
    pub drain_timeout_s: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCdr {
    pub path: Option<S<String>>,
    pub redact_numbers: Option<S<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHep {
    pub address: Option<S<String>>,
    pub capture_id: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApi {
    pub listen: Option<S<String>>,
    pub no_client_status: Option<S<i64>>,
    pub tokens: Option<List<RawApiToken>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApiToken {
    pub name: Option<S<String>>,
    pub sha256: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMedia {
    pub tone_profile: Option<S<String>>,
    pub prompts_dir: Option<S<String>>,
    pub recordings_dir: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrompt {
    pub name: Option<S<String>>,
    pub file: Option<S<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProtection {
    pub source_rate: Option<S<i64>>,
    pub source_burst: Option<S<i64>>,
    pub prefix_rate: Option<S<i64>>,
    pub prefix_burst: Option<S<i64>>,
    pub ban_s: Option<S<i64>>,
    pub ban_max_s: Option<S<i64>>,
    pub max_sources: Option<S<i64>>,
    pub log_interval_s: Option<S<i64>>,
    pub scanner_user_agents: Option<List<String>>,
    pub overload_busy_percent: Option<S<i64>>,
    pub overload_busy_clear_percent: Option<S<i64>>,
    pub overload_queue: Option<S<i64>>,
    pub overload_queue_clear: Option<S<i64>>,
    pub overload_window_ms: Option<S<i64>>,
    pub overload_retry_after_s: Option<S<i64>>,
}
