//! The schema in words: for every table, the keys it allows and, for every key, what
//! values it allows. This is the single source of the "allowed: ..." half of the error
//! messages (unknown keys, missing keys, wrong types). A unit test checks that the key
//! lists agree with the serde structs in `raw.rs`.

/// One table of the file, by pattern: `""` is the root, `listener[]` an element of the
/// `[[listener]]` array, `route[].match_user` the match table of any route.
pub(crate) struct Table {
    pub pattern: &'static str,
    pub keys: &'static [Key],
}

/// One key of a table and the description of its allowed values.
pub(crate) struct Key {
    pub name: &'static str,
    pub allowed: &'static str,
}

const fn key(name: &'static str, allowed: &'static str) -> Key {
    Key { name, allowed }
}

pub(crate) const NAME: &str = "a name of 1 to 64 characters from A-Z a-z 0-9 . _ -";
pub(crate) const SOCKET_ADDR: &str =
    "an IP address and port such as \"127.0.0.1:5060\" or \"[::1]:5060\"";
pub(crate) const TRANSPORT: &str = "one of \"udp\", \"tcp\", \"tls\"";
pub(crate) const FILE: &str = "a path to a PEM file, relative to the config file's folder";
pub(crate) const CIDR: &str =
    "a CIDR network such as \"192.0.2.0/24\" or \"2001:db8::/32\", or a bare address (/32 or /128)";
pub(crate) const IP_ADDR: &str = "an IP address such as \"192.0.2.10\" or \"2001:db8::10\"";
pub(crate) const DIGITS: &str = "1 to 6 digits, such as \"0\" or \"00\"";
pub(crate) const CONTROL: &str = "\"static\" (the route's destinations) or \"api\" (the call-control API; needs [api]), default \"static\"";
pub(crate) const PROMPT_FILE: &str =
    "a WAV file, 8 kHz mono, 16-bit PCM, µ-law or A-law, relative to the config file's folder";
pub(crate) const PROMPTS_DIR: &str = "a folder, relative to the config file's folder, whose *.wav files (8 kHz mono, \
     16-bit PCM, µ-law or A-law) become prompts named by their file name without .wav";
pub(crate) const RECORDINGS_DIR: &str = "an existing folder voxgate may write to, relative to the \
     config file's folder, where recordings go as WAV files (default: none, recording is off)";
pub(crate) const SKILLS: &str =
    "a table of skill name = proficiency 1..=10, such as { french = 8, billing = 3 }";
pub(crate) const KEEPALIVE: &str = "{ interval_s = 30, down_after = 3, up_after = 2 }: OPTIONS every interval_s, down after \
     down_after unanswered, up after up_after answered";
pub(crate) const HEADER_RULES: &str = "a table of header rules: keep_only, remove, rewrite, add, \
     pai, privacy, caller_id, pass (inbound: what arrives from the trunk; outbound: what is sent to it)";
pub(crate) const HEADER_NAME: &str = "a SIP header name (letters, digits and - . ! % * _ + ` ' ~), \
     not one voxgate writes per hop or dialog: Via, Call-ID, CSeq, From, To, Contact, \
     Content-Length, Content-Type, Max-Forwards, Route, Record-Route";
pub(crate) const TEMPLATE: &str = "a header value on one line, plain or a minijinja template \
     using caller, callee, trunk, from_trunk, to_trunk and value, such as \"{{ value }};x={{ trunk }}\"";
pub(crate) const PRIVACY: &str = "RFC 3323 privacy values separated by \";\": header, session, user, \
     none, critical, id, history";
pub(crate) const PASS: &str = "a header name carried across as it is, or a prefix ending in * \
     (such as \"X-*\"); not a compact form, not one voxgate writes per hop, dialog or leg (Via, \
     Call-ID, CSeq, From, To, Contact, Content-Length, Content-Type, Max-Forwards, Route, \
     Record-Route, Allow, Supported, Require, Proxy-Require, Unsupported, Session-Expires, Min-SE, \
     RSeq, RAck, Authorization, Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate, \
     Authentication-Info, Content-Encoding, Content-Disposition, Content-Language, MIME-Version, \
     Retry-After, Event, Subscription-State, Info-Package, Refer-To, Referred-By, Replaces, Path, \
     Service-Route), and not P-Asserted-Identity, Privacy, Diversion or History-Info (carried as \
     the trunks' `trusted` allows)";
pub(crate) const FLOW_NODE_KINDS: &str = "one of \"play_message\", \"menu\", \"collect_digits\", \"set_variable\", \"condition\", \"case\", \"goto\", \"blind_transfer\", \"business_hours\", \"disconnect\", \"queue\", \"get_queue_info\", \"queue_to_agent\", \"play_music\"";
pub(crate) const PREFIX: &str = "1 to 8 characters from 0-9 and +, such as \"0\" or \"+44\"";
const HEADER_RULE_KEYS: &[Key] = &[
    key(
        "keep_only",
        "a list of header names: only these carried headers pass",
    ),
    key("remove", "a list of header names removed"),
    key(
        "rewrite",
        "a table of header name = template: the value of that header, if carried, replaced (value is the old value)",
    ),
    key("add", "a table of header name = template: the header added"),
    key(
        "pai",
        "a P-Asserted-Identity put in place of any carried one, plain or a template, such as \"<sip:+4930123456@example.com>\"",
    ),
    key("privacy", PRIVACY),
    key(
        "caller_id",
        "{ e164_country_code = \"44\", strip_prefix = \"+44\", add_prefix = \"0\" }: applied in this order to the From and P-Asserted-Identity user parts",
    ),
    key("pass", PASS),
];
const CALLER_ID_KEYS: &[Key] = &[
    key(
        "e164_country_code",
        "1 to 3 digits not starting with 0: \"00\" + digits becomes \"+\" digits, \"0\" + digits \"+\" country code digits",
    ),
    key("strip_prefix", PREFIX),
    key("add_prefix", PREFIX),
];
const KEEPALIVE_KEYS: &[Key] = &[
    key("interval_s", "seconds 1..=3600 (default 30)"),
    key("down_after", "a count 1..=100 (default 3)"),
    key("up_after", "a count 1..=100 (default 2)"),
];
pub(crate) const CREDENTIALS: &str = "{ username = \"acme\", password_file = \"carrier-a.pass\" } or \
     { username = \"acme\", password_env = \"CARRIER_A_PASSWORD\" }, optionally with realm = \"...\": \
     digest credentials answering the trunk's 401/407 challenges";
pub(crate) const PASSWORD_FILE: &str = "a path to a file holding the password (one line; relative to the config file's \
     folder), instead of password_env";
pub(crate) const PASSWORD_ENV: &str = "the name of an environment variable holding the password, such as \"CARRIER_A_PASSWORD\", instead of password_file";
pub(crate) const REGISTER: &str = "{ registrar = \"sip:203.0.113.5:5060\", user = \"acme\", expires_s = 3600, \
     transport = \"udp\" }: REGISTER with the trunk's registrar at start and on reload, refreshed \
     before expiry, challenges answered with the trunk's credentials";
pub(crate) const BUFFER: &str = "a size in bytes 0..=2147483647 (0 = OS default)";

pub(crate) const TABLES: &[Table] = &[
    Table {
        pattern: "",
        keys: &[
            key("node", "a [node] table with name and region"),
            key(
                "admin",
                "an [admin] table with listen, public_listen, tokens",
            ),
            key(
                "logging",
                "a [logging] table with format, level, redact_numbers",
            ),
            key("sip", "a [sip] table holding [sip.timers] and [sip.limits]"),
            key("listener", "one or more [[listener]] tables"),
            key("trunk", "one or more [[trunk]] tables"),
            key("media_region", "one or more [[media_region]] tables"),
            key("route", "[[route]] tables"),
            key(
                "calls",
                "a [calls] table with media_timeout_s, ring_timeout_s, trying_timeout_ms, \
                 session_expires_s, min_se_s, max_forwards, drain_timeout_s",
            ),
            key("cdr", "a [cdr] table with path and redact_numbers"),
            key("hep", "a [hep] table with address and capture_id"),
            key(
                "api",
                "an [api] table with listen, no_client_status, tokens",
            ),
            key(
                "media",
                "a [media] table with tone_profile, prompts_dir, recordings_dir",
            ),
            key("prompt", "[[prompt]] tables with name and file"),
            key(
                "protection",
                "a [protection] table with source_rate, source_burst, prefix_rate, prefix_burst, \
                 ban_s, ban_max_s, max_sources, log_interval_s, scanner_user_agents, \
                 overload_busy_percent, overload_busy_clear_percent, overload_queue, \
                 overload_queue_clear, overload_window_ms, overload_retry_after_s",
            ),
            key("dns", "a [dns] table with name_servers"),
            key(
                "kill_switch",
                "a [kill_switch] table with error_percent, window_s, min_attempts",
            ),
            key(
                "entry_point",
                "[[entry_point]] tables: dialled numbers or trunks that enter a flow",
            ),
            key(
                "flow",
                "[[flow]] tables: IVR flows, each with [[flow.variable]] and [[flow.node]]",
            ),
            key(
                "include",
                "a list of files holding [[entry_point]] and [[flow]] tables, relative to this file's folder, such as [\"flows.toml\", \"ivr/*.toml\"] (a folder's *.toml files in name order)",
            ),
            key("site", "[[site]] tables: where teams sit"),
            key("team", "[[team]] tables: teams of agents, each in a site"),
            key(
                "agent",
                "[[agent]] tables: agents, their teams, skills and phone",
            ),
            key(
                "queue",
                "[[queue]] tables: where contacts wait for an agent",
            ),
        ],
    },
    Table {
        pattern: "site[]",
        keys: &[key("name", NAME)],
    },
    Table {
        pattern: "team[]",
        keys: &[key("name", NAME), key("site", "the name of a [[site]]")],
    },
    Table {
        pattern: "agent[]",
        keys: &[
            key("name", NAME),
            key(
                "teams",
                "a list of [[team]] names, at least one, such as [\"sales-paris\"]",
            ),
            key("skills", SKILLS),
            key(
                "dial",
                "where the agent's phone is dialled: { uri = \"sip:...\", transport = \"udp\", trunk = \"...\" }",
            ),
            key(
                "ring_timeout_s",
                "seconds 1..=300 the agent's phone rings before the offer counts as not answered (default 15)",
            ),
            key(
                "wrap_up_s",
                "seconds 0..=3600 in wrap-up after a contact (default 0)",
            ),
        ],
    },
    Table {
        pattern: "agent[].dial",
        keys: &[
            key(
                "uri",
                "a sip: or sips: URI whose host is an IPv4 address, an IPv6 address in [ ] or a \
                 DNS name, with an optional port, such as \"sip:alice@192.0.2.30:5060\"",
            ),
            key("transport", TRANSPORT),
            key("trunk", "the name of a [[trunk]]"),
            key("keepalive", KEEPALIVE),
        ],
    },
    Table {
        pattern: "agent[].dial.keepalive",
        keys: KEEPALIVE_KEYS,
    },
    Table {
        pattern: "queue[]",
        keys: &[
            key("name", NAME),
            key(
                "strategy",
                "\"longest_available\" (default) or \"best_available\" (the best skill match, then the longest available)",
            ),
            key(
                "groups",
                "a list of distribution groups { teams = [\"...\"], after_s = 0 }, at least one; the first at after_s = 0, each later one at a longer wait",
            ),
            key("skills", SKILLS),
            key(
                "music",
                "a prompt name ([[prompt]] or [media] prompts_dir) looped to waiting callers (default: silence)",
            ),
            key(
                "max_wait_s",
                "seconds 1..=86400 a contact waits before its queue node's timeout output (default 900)",
            ),
            key(
                "ageing_s",
                "seconds 1..=86400: every ageing_s waited counts as one priority level more (default: no ageing)",
            ),
        ],
    },
    Table {
        pattern: "queue[].groups[]",
        keys: &[
            key("teams", "a list of [[team]] names, at least one"),
            key(
                "after_s",
                "seconds 0..=86400 a contact waits before these teams join the search (the first group's is 0)",
            ),
        ],
    },
    Table {
        pattern: "kill_switch",
        keys: &[
            key(
                "error_percent",
                "1..=100: the share of failed attempts, in percent, that turns a capability's \
                 kill switch off (default 50)",
            ),
            key(
                "window_s",
                "1..=3600 seconds over which attempts are counted (default 60)",
            ),
            key(
                "min_attempts",
                "1..=100000 attempts in the window before a switch may trip (default 20)",
            ),
        ],
    },
    Table {
        pattern: "dns",
        keys: &[key(
            "name_servers",
            "a list of name servers, each an IP address (port 53) or an address and port \
             such as \"192.0.2.53\" or \"127.0.0.1:5353\" (default: those of /etc/resolv.conf)",
        )],
    },
    Table {
        pattern: "node",
        keys: &[
            key("name", NAME),
            key("region", "the name of a [[media_region]]"),
        ],
    },
    Table {
        pattern: "admin",
        keys: &[
            key("listen", SOCKET_ADDR),
            key("public_listen", SOCKET_ADDR),
            key(
                "tokens",
                "a list of { name = \"...\", sha256 = \"...\" } (voxgate hash-token TOKEN prints the sha256)",
            ),
        ],
    },
    Table {
        pattern: "logging",
        keys: &[
            key("format", "one of \"pretty\", \"json\" (default \"pretty\")"),
            key(
                "level",
                "a level (off, error, warn, info, debug, trace) or a comma-separated tracing \
                 filter in which every directive ends in one, such as \"info,voxgate_sip=debug\"; \
                 no spaces",
            ),
            key("redact_numbers", "true or false (default true)"),
        ],
    },
    Table {
        pattern: "sip",
        keys: &[
            key("timers", "a [sip.timers] table with t1_ms, t2_ms, t4_ms"),
            key(
                "limits",
                "a [sip.limits] table with max_message_size, max_headers, connection_idle_timeout_s, \
                 max_connections, max_connections_per_source, tls_handshake_timeout_s, message_timeout_s",
            ),
        ],
    },
    Table {
        pattern: "sip.timers",
        keys: &[
            key("t1_ms", "milliseconds 50..=10000 (default 500)"),
            key("t2_ms", "milliseconds t1_ms..=60000 (default 4000)"),
            key("t4_ms", "milliseconds 50..=60000 (default 5000)"),
        ],
    },
    Table {
        pattern: "sip.limits",
        keys: &[
            key("max_message_size", "bytes 512..=65535 (default 65535)"),
            key("max_headers", "a count 16..=1024 (default 256)"),
            key(
                "connection_idle_timeout_s",
                "seconds: 0 (never) or 10..=86400 (default 300)",
            ),
            key(
                "max_connections",
                "accepted TCP/TLS connections open at once 1..=16000 (default 10000)",
            ),
            key(
                "max_connections_per_source",
                "accepted TCP/TLS connections from one IP address 1..=max_connections (default 64)",
            ),
            key("tls_handshake_timeout_s", "seconds 1..=60 (default 5)"),
            key(
                "message_timeout_s",
                "seconds 1..=300 a TCP/TLS message may take from its first byte to its last (default 10)",
            ),
        ],
    },
    Table {
        pattern: "listener[]",
        keys: &[
            key("transport", TRANSPORT),
            key("address", SOCKET_ADDR),
            key("recv_buffer", BUFFER),
            key("send_buffer", BUFFER),
            key("certificate", FILE),
            key("private_key", FILE),
            key("client_ca", FILE),
            key(
                "advertise",
                "an IP address of the listener's family to put in Via and Contact, such as \
                 \"203.0.113.10\" (required when address is 0.0.0.0 or [::])",
            ),
        ],
    },
    Table {
        pattern: "trunk[]",
        keys: &[
            key("name", NAME),
            key(
                "allow",
                "a list of CIDR networks such as [\"192.0.2.0/24\", \"2001:db8::/32\"]",
            ),
            key(
                "transports",
                "a list of \"udp\", \"tcp\", \"tls\" (default all three)",
            ),
            key(
                "tls_peer_name",
                "a DNS name such as \"sbc.carrier.example\"",
            ),
            key(
                "listener",
                "the address of a [[listener]] as written there, such as \"203.0.113.10:5062\" (default: the first listener of each transport and address family)",
            ),
            key(
                "advertise",
                "an IP address such as \"203.0.113.10\", put in Via and Contact on this trunk's legs instead of the listener's (default: the listener's advertise or address)",
            ),
            key(
                "media_region",
                "the name of a [[media_region]] (default: [node] region)",
            ),
            key(
                "max_calls",
                "a count of concurrent inbound calls 1..=1000000 (leave it out for no limit)",
            ),
            key(
                "max_cps",
                "new inbound calls per second 1..=100000 (leave it out for no limit)",
            ),
            key(
                "numbering",
                "{ country_code = \"44\", national_prefix = \"0\", international_prefix = \"00\" }",
            ),
            key(
                "codecs",
                "a list, in order of preference, of \"PCMU\", \"PCMA\", \"G722\", \
                 \"telephone-event\" (voxgate offers these itself) and \"G729\", \"G723\", \"G728\", \
                 \"GSM\", \"G726-32\", \"iLBC\", \"AMR\", \"AMR-WB\", \"opus\", \"speex\", \"L16\", \
                 \"CN\" (passed between linked legs only), each once, with at least one voice codec \
                 (default [\"PCMU\", \"PCMA\", \"telephone-event\"])",
            ),
            key("control", CONTROL),
            key(
                "srtp",
                "\"off\" (plain RTP only), \"optional\" (SDES-SRTP when the peer offers or \
                 accepts it) or \"required\" (SDES-SRTP only), default \"off\"",
            ),
            key(
                "srtp_suites",
                "a list of \"AES_CM_128_HMAC_SHA1_80\", \"AEAD_AES_128_GCM\", \
                 \"AES_CM_128_HMAC_SHA1_32\", each once, in the order offered (default all three \
                 in that order)",
            ),
            key("keepalive", KEEPALIVE),
            key(
                "out_of_service_status",
                "a final status 400..=699 new inbound calls get while the trunk is out of service \
                 (default 503)",
            ),
            key(
                "trusted",
                "true (the trunk is in the RFC 3325 trust domain: its P-Asserted-Identity, \
                 Privacy, Diversion and History-Info are passed on, and callers asking for \
                 privacy are still identified towards it) or false (those headers are removed \
                 from its requests; default false)",
            ),
            key("credentials", CREDENTIALS),
            key(
                "auth",
                "\"address\" (its allow-list admits its INVITEs; the default) or \"digest\" (its \
                 INVITEs must also carry digest credentials: the trunk's credentials user and \
                 password in the credentials realm, which then is required; others get 401)",
            ),
            key("register", REGISTER),
            key("inbound", HEADER_RULES),
            key("outbound", HEADER_RULES),
        ],
    },
    Table {
        pattern: "trunk[].register",
        keys: &[
            key(
                "registrar",
                "the registrar's URI, such as \"sip:203.0.113.5:5060\" (an IP address; the \
                 REGISTER's Request-URI)",
            ),
            key("transport", "\"udp\", \"tcp\" or \"tls\" (default \"udp\")"),
            key(
                "user",
                "the user to register, such as \"+442071234567\" or \"acme\" (To, From and our \
                 Contact's user)",
            ),
            key(
                "expires_s",
                "the binding's lifetime asked for, seconds 60..=86400 (default 3600)",
            ),
        ],
    },
    Table {
        pattern: "trunk[].credentials",
        keys: &[
            key(
                "username",
                "the user name the carrier gave, such as \"acme-sbc\"",
            ),
            key("password_file", PASSWORD_FILE),
            key("password_env", PASSWORD_ENV),
            key(
                "realm",
                "the one realm whose challenges are answered, such as \"sip.carrier.example\" \
                 (default: any realm the trunk names); with auth = \"digest\", the realm of \
                 voxgate's own challenges (then required)",
            ),
            key(
                "algorithms",
                "a list of \"SHA-512-256\", \"SHA-256\", \"MD5\", each once, preferred first: \
                 voxgate's challenges when auth = \"digest\" (default [\"SHA-256\", \"MD5\"]; \
                 [\"MD5\"] for peers that read only the first challenge and know only MD5)",
            ),
        ],
    },
    Table {
        pattern: "trunk[].inbound",
        keys: HEADER_RULE_KEYS,
    },
    Table {
        pattern: "trunk[].outbound",
        keys: HEADER_RULE_KEYS,
    },
    Table {
        pattern: "trunk[].inbound.caller_id",
        keys: CALLER_ID_KEYS,
    },
    Table {
        pattern: "trunk[].outbound.caller_id",
        keys: CALLER_ID_KEYS,
    },
    Table {
        pattern: "trunk[].keepalive",
        keys: KEEPALIVE_KEYS,
    },
    Table {
        pattern: "trunk[].numbering",
        keys: &[
            key(
                "country_code",
                "1 to 3 digits not starting with 0, such as \"44\" or \"1\"",
            ),
            key("national_prefix", DIGITS),
            key("international_prefix", DIGITS),
        ],
    },
    Table {
        pattern: "media_region[]",
        keys: &[
            key("name", NAME),
            key(
                "addresses",
                "a list of unicast IP addresses of this host such as [\"192.0.2.10\"], at most one \
                 IPv4 and one IPv6 (not 0.0.0.0 or ::)",
            ),
            key(
                "advertise",
                "a list of public IP addresses to put in SDP instead, such as [\"203.0.113.10\"], at \
                 most one per family of addresses",
            ),
            key("port_min", "an even port 1024..=65534"),
            key("port_max", "a port greater than port_min, up to 65535"),
        ],
    },
    Table {
        pattern: "entry_point[]",
        keys: &[
            key("name", NAME),
            key(
                "numbers",
                "a list of dialled numbers in E.164 (\"+\" and 1 to 15 digits, as the inbound trunk's numbering makes them), such as [\"+15550100\"]; no number in two entry points",
            ),
            key(
                "trunks",
                "a list of [[trunk]] names whose calls enter here when their number is in no entry point; no trunk in two entry points",
            ),
            key("flow", "the name of a [[flow]]"),
            key(
                "time_zone",
                "an IANA time zone such as \"Europe/London\" (default \"UTC\"): the clock of its flow's business_hours nodes",
            ),
            key(
                "queue",
                "the name of a [[queue]]: the entry point's default queue (queue nodes that name none)",
            ),
        ],
    },
    Table {
        pattern: "flow[]",
        keys: &[
            key("name", NAME),
            key(
                "start",
                "the id of a node of this flow: where each call starts",
            ),
            key(
                "on_error",
                "the id of a node of this flow where an error goes (default: hang up)",
            ),
            key("variable", "[[flow.variable]] tables: the flow's variables"),
            key("node", "[[flow.node]] tables: the flow's nodes"),
        ],
    },
    Table {
        pattern: "flow[].variable[]",
        keys: &[
            key(
                "name",
                "a variable name: a-z or _ then up to 63 of a-z 0-9 _, not ani, dnis, trunk, contact_id or entry_point",
            ),
            key("type", "one of \"string\", \"number\", \"boolean\""),
            key(
                "default",
                "the starting value as text, of the variable's type (a number such as \"0\", or \"true\"/\"false\")",
            ),
            key(
                "sensitive",
                "true (never in logs, CDRs, events or webhooks) or false (default)",
            ),
        ],
    },
    Table {
        pattern: "flow[].node[]",
        keys: &[
            key(
                "id",
                "a node id of 1 to 64 characters from A-Z a-z 0-9 _ -, unique in the flow",
            ),
            key("kind", FLOW_NODE_KINDS),
            key(
                "outputs",
                "a table of output name = node id, such as { next = \"menu\" }; the outputs the node's kind has",
            ),
            key(
                "prompts",
                "a list of prompt names ([[prompt]] or [media] prompts_dir), played in order",
            ),
            key(
                "prompt",
                "a prompt name ([[prompt]] or [media] prompts_dir)",
            ),
            key(
                "invalid_prompt",
                "a prompt name, played before a menu is replayed after a digit it does not take",
            ),
            key(
                "timeout_s",
                "1..=60 seconds (default 5): the wait for a menu's digit after its prompt",
            ),
            key(
                "retries",
                "0..=9 (default 2): replays of a menu after a timeout or an invalid digit",
            ),
            key(
                "variable",
                "the name of a variable declared in this flow's [[flow.variable]]",
            ),
            key(
                "min",
                "1..=32 (default 1): the fewest digits collect_digits takes",
            ),
            key("max", "min..=32: the most digits collect_digits takes"),
            key(
                "terminator",
                "one key of 0-9 * #: ends collect_digits early (not stored)",
            ),
            key(
                "first_timeout_s",
                "1..=60 seconds (default 5): the wait for the first digit",
            ),
            key(
                "inter_digit_timeout_s",
                "1..=60 seconds (default 3): the wait between digits",
            ),
            key(
                "value",
                "a minijinja template over the flow's variables and ani, dnis, trunk, contact_id, entry_point, such as \"{{ account }}\"",
            ),
            key(
                "expression",
                "a minijinja expression over the flow's variables and ani, dnis, trunk, contact_id, entry_point, such as \"account > 1000\"",
            ),
            key("node", "the id of a node of this flow (goto)"),
            key(
                "flow",
                "the name of a [[flow]] (goto: continue at its start)",
            ),
            key(
                "number",
                "a minijinja template of the number to dial, routed by the [[route]]s as a call from the inbound trunk",
            ),
            key(
                "hours",
                "a list of weekly openings such as [\"mon-fri 09:00-17:30\", \"sat 10:00-14:00\"]: days (mon..sun, ranges and commas, or daily) and HH:MM-HH:MM (a close at or before the open runs past midnight; 24:00 is the end of the day)",
            ),
            key(
                "holidays",
                "a list of dates such as [\"2026-12-25\"]: whole days closed (output holiday if named, else closed)",
            ),
            key(
                "force",
                "\"open\" or \"closed\": overrides the hours (an unplanned closure)",
            ),
            key(
                "queue",
                "the name of a [[queue]] (default: the entry point's queue)",
            ),
            key(
                "priority",
                "1..=10 (default 5): a contact of higher priority is offered first",
            ),
            key("skills", SKILLS),
            key(
                "max_wait_s",
                "seconds 1..=86400 before the timeout output (default: the queue's max_wait_s)",
            ),
            key(
                "position",
                "a number variable of this flow: the position a contact joining the queue now would take",
            ),
            key(
                "estimated_wait",
                "a number variable of this flow: the queue's estimated wait in seconds",
            ),
            key(
                "available_agents",
                "a number variable of this flow: the queue's agents available now",
            ),
            key("agent", "the name of an [[agent]] (queue_to_agent)"),
            key(
                "music",
                "a prompt name looped while the caller waits (queue_to_agent; default: silence)",
            ),
            key(
                "duration_s",
                "1..=3600 seconds the music plays (play_music)",
            ),
        ],
    },
    Table {
        pattern: "route[]",
        keys: &[
            key("name", NAME),
            key(
                "match_user",
                "exactly one of { exact = \"...\" }, { prefix = \"...\" }, { regex = \"...\" }",
            ),
            key(
                "destinations",
                "a list of { uri = \"sip:...\", transport = \"udp\", trunk = \"...\" }",
            ),
            key(
                "trunk",
                "the name of a [[trunk]]: the route takes only calls from that trunk",
            ),
            key("follow_redirects", "true or false (default false)"),
            key(
                "parallel",
                "true (ring every destination at once; the first answer wins) or false (in order; default)",
            ),
            key(
                "ring_timeout_s",
                "seconds 1..=3600 (default: [calls] ring_timeout_s)",
            ),
            key("control", CONTROL),
        ],
    },
    Table {
        pattern: "route[].match_user",
        keys: &[
            key("exact", "a string: the user part must equal it"),
            key(
                "prefix",
                "a string: the user part must start with it (\"\" matches all)",
            ),
            key(
                "regex",
                "a non-empty regular expression (Rust regex syntax, unanchored: use ^ and $)",
            ),
        ],
    },
    Table {
        pattern: "route[].destinations[]",
        keys: &[
            key(
                "uri",
                "a sip: or sips: URI whose host is an IPv4 address, an IPv6 address in [ ] or a \
                 DNS name (letters, digits and - in dot-separated labels), not a wildcard, with \
                 an optional port 1..=65535, such as \"sip:192.0.2.20:5060\" or \
                 \"sips:sbc.carrier.example\"",
            ),
            key("transport", TRANSPORT),
            key("trunk", "the name of a [[trunk]]"),
            key("keepalive", KEEPALIVE),
        ],
    },
    Table {
        pattern: "route[].destinations[].keepalive",
        keys: KEEPALIVE_KEYS,
    },
    Table {
        pattern: "calls",
        keys: &[
            key(
                "media_timeout_s",
                "seconds: 0 (off) or 5..=86400 (default 60)",
            ),
            key("ring_timeout_s", "seconds 1..=3600 (default 60)"),
            key(
                "trying_timeout_ms",
                "milliseconds: 0 (wait for timer B) or 200..=32000 (default 4000)",
            ),
            key(
                "session_expires_s",
                "seconds: 0 (session timers off) or min_se_s..=86400 (default 1800, or min_se_s if larger)",
            ),
            key("min_se_s", "seconds 90..=86400 (default 90)"),
            key("max_forwards", "a hop count 1..=255 (default 70)"),
            key(
                "drain_timeout_s",
                "seconds 1..=86400 that calls may go on after SIGTERM (default 300)",
            ),
        ],
    },
    Table {
        pattern: "cdr",
        keys: &[
            key(
                "path",
                "a file path whose folder exists, relative to the config file's folder",
            ),
            key("redact_numbers", "true or false (default true)"),
        ],
    },
    Table {
        pattern: "hep",
        keys: &[
            key("address", SOCKET_ADDR),
            key("capture_id", "an agent id 0..=4294967295 (default 2001)"),
        ],
    },
    Table {
        pattern: "api",
        keys: &[
            key("listen", SOCKET_ADDR),
            key("no_client_status", "a SIP status 400..=699 (default 480)"),
            key(
                "tokens",
                "a list of { name = \"...\", sha256 = \"...\" } (voxgate hash-token TOKEN prints the sha256)",
            ),
        ],
    },
    Table {
        pattern: "media",
        keys: &[
            key(
                "tone_profile",
                "one of \"us\", \"uk\", \"de\", \"fr\": the country whose call-progress tones \
                 (ringback, busy, beep, sit) voxgate plays (default \"us\")",
            ),
            key("prompts_dir", PROMPTS_DIR),
            key("recordings_dir", RECORDINGS_DIR),
        ],
    },
    Table {
        pattern: "protection",
        keys: &[
            key(
                "source_rate",
                "packets per second per unlisted IP address 1..=100000 (default 20)",
            ),
            key("source_burst", "packets 1..=1000000 (default 100)"),
            key(
                "prefix_rate",
                "packets per second per unlisted /24 or /64 1..=1000000 (default 100)",
            ),
            key("prefix_burst", "packets 1..=10000000 (default 500)"),
            key("ban_s", "seconds 1..=86400 (default 60)"),
            key("ban_max_s", "seconds ban_s..=604800 (default 3600)"),
            key("max_sources", "a count 1024..=4194304 (default 65536)"),
            key("log_interval_s", "seconds 1..=86400 (default 60)"),
            key(
                "scanner_user_agents",
                "a list of at most 64 User-Agent substrings of 1 to 64 printable ASCII \
                 characters, matched without regard to case ([] = off)",
            ),
            key(
                "overload_busy_percent",
                "per cent 1..=100 of a window the signalling loop may be busy before new \
                 calls get 503 (default 90)",
            ),
            key(
                "overload_busy_clear_percent",
                "per cent 0..=overload_busy_percent: overload ends when a window is at most \
                 this busy (default 70)",
            ),
            key(
                "overload_queue",
                "inputs waiting for the signalling loop 1..=1000000 before new calls get 503 \
                 (default 4096)",
            ),
            key(
                "overload_queue_clear",
                "inputs 0..=overload_queue: overload ends when at most this many wait \
                 (default 512)",
            ),
            key(
                "overload_window_ms",
                "milliseconds 100..=60000 over which the busy share is measured (default 1000)",
            ),
            key(
                "overload_retry_after_s",
                "seconds 0..=3600 in the Retry-After of the 503 (default 5)",
            ),
        ],
    },
    Table {
        pattern: "prompt[]",
        keys: &[key("name", NAME), key("file", PROMPT_FILE)],
    },
    Table {
        pattern: "admin.tokens[]",
        keys: &[
            key("name", NAME),
            key(
                "sha256",
                "64 hexadecimal digits: the SHA-256 of the token, as `voxgate hash-token TOKEN` prints it",
            ),
        ],
    },
    Table {
        pattern: "api.tokens[]",
        keys: &[
            key("name", NAME),
            key(
                "sha256",
                "64 hexadecimal digits: the SHA-256 of the token, as `voxgate hash-token TOKEN` prints it",
            ),
        ],
    },
];

/// The table with this pattern.
pub(crate) fn table(pattern: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.pattern == pattern)
}

/// The keys allowed in the table with this pattern.
pub(crate) fn allowed_keys(pattern: &str) -> Option<Vec<&'static str>> {
    table(pattern).map(|t| t.keys.iter().map(|k| k.name).collect())
}

/// What the key at `path` (concrete, e.g. `trunk[1].allow[0]`) allows.
pub(crate) fn describe(path: &str) -> &'static str {
    let mut pattern = pattern_of(path);
    // An element of a list of values is described by the list's description.
    while let Some(stripped) = pattern.strip_suffix("[]") {
        pattern.truncate(stripped.len());
    }
    let (parent, name) = match pattern.rsplit_once('.') {
        Some((parent, name)) => (parent, name),
        None => ("", pattern.as_str()),
    };
    table(parent)
        .and_then(|t| t.keys.iter().find(|k| k.name == name))
        .map_or("see the sample config/voxgate.toml", |k| k.allowed)
}

/// `trunk[1].allow[0]` -> `trunk[].allow[]`: the schema pattern of a concrete path.
pub(crate) fn pattern_of(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert_eq!(pattern_of("trunk[12].allow[0]"), "trunk[].allow[]");
        assert_eq!(pattern_of("sip.timers.t1_ms"), "sip.timers.t1_ms");
    }

    #[test]
    fn descriptions() {
        assert_eq!(describe("trunk[1].allow[0]"), describe("trunk[0].allow"));
        assert!(describe("trunk[1].allow").contains("CIDR"));
        assert_eq!(describe("listener[3].transport"), TRANSPORT);
        assert_eq!(describe("route[0].destinations[1].transport"), TRANSPORT);
        // A whole element of an array of tables is described by the array key.
        assert!(describe("listener[0]").contains("[[listener]]"));
        assert!(describe("node").contains("[node]"));
        assert!(describe("sip.limits.max_headers").contains("16..=1024"));
    }
}
