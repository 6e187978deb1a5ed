//! voxgate-sip: the SIP stack of voxgate.
//!
//! What it is: a message model of our own (the received bytes plus an index
//! of header ranges), RFC 3261 §17 transactions as a sans-IO state machine,
//! and UDP/TCP/TLS transports on tokio.
//!
//! What it is not: a proxy core or a call; calls (one [`dialog`] per leg) live in `voxgate-edge`.
//!
//! ```
//! use voxgate_sip::message::{HeaderName, Limits, Message, response_to};
//!
//! let bytes = "OPTIONS sip:edge@192.0.2.1 SIP/2.0\r\n\
//!     v: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK1;rport\r\n\
//!     Max-Forwards: 70\r\nf: <sip:carrier@192.0.2.9>;tag=a\r\nt: <sip:edge@192.0.2.1>\r\n\
//!     i: call-1\r\nCSeq: 7 OPTIONS\r\nl: 0\r\n\r\n";
//! let msg = Message::parse(bytes.into(), &Limits::default()).unwrap();
//! msg.validate().unwrap();
//! assert_eq!(msg.call_id().unwrap(), "call-1"); // compact `i:` is Call-ID
//! assert_eq!(msg.top_via().unwrap().branch(), Some("z9hG4bK1"));
//!
//! // A 200 that echoes Via (with rport filled in), From, To (+ our tag), Call-ID, CSeq.
//! let source = "192.0.2.9:40000".parse().unwrap();
//! let ok = response_to(&msg, 200, "OK", Some("ourtag"), Some(source))
//!     .header(HeaderName::Allow, "INVITE, ACK, CANCEL, BYE, OPTIONS")
//!     .build_message()
//!     .unwrap();
//! assert_eq!(ok.top_via().unwrap().rport(), Some(Some(40000)));
//! assert_eq!(ok.to_header().unwrap().tag(), Some("ourtag"));
//! ```

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod dialog;
pub mod message;
pub mod transaction;
pub mod transport;

pub mod hashing;
pub mod ids;
mod peer;
pub use peer::{ConnId, Peer, TransportKind};
