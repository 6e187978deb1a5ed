//! RFC 3261 §12 dialogs and the UA-core pieces around them, as plain data
//! and builders (sans-IO: times are passed in, nothing reads a clock).
//!
//! * [`Dialog`]: the state of one dialog (§12.1.1 UAS, §12.1.2 UAC), the
//!   construction of in-dialog requests (§12.2.1.1, loose and strict
//!   routing) and of the ACK for a 2xx (§13.2.2.4), the CSeq check of
//!   incoming requests (§12.2.2) and target refresh.
//! * [`NewRequest`]: the first request of a UAC leg (§8.1.1).
//! * [`LocalAddr`]: our Via and Contact on a leg (IPv6 bracketed;
//!   `sips:` only where the dialog-creating request was SIPS, otherwise
//!   `sip:` with `transport=tls` on TLS, RFC 5630).
//! * [`retransmit`]: the UAS core's 2xx retransmission (§13.3.1.4) and the
//!   reliable-provisional retransmission of RFC 3262 §3.
//! * [`session_timer`]: RFC 4028 negotiation and refresh/expiry instants.
//! * [`prack`]: RFC 3262 RSeq / RAck.
//!
//! What it is not: a dialog table or a call. The B2BUA call actor in
//! `voxgate-edge` owns one `Dialog` per leg, finds it by [`DialogKey`] and
//! hands the built requests to the transaction layer.
//!
//! ```
//! use voxgate_sip::TransportKind;
//! use voxgate_sip::dialog::{Dialog, LocalAddr};
//! use voxgate_sip::message::{Limits, Message, Method};
//!
//! let invite = "INVITE sip:bob@192.0.2.1 SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\
//!     From: <sip:alice@192.0.2.9>;tag=a1\r\nTo: <sip:bob@192.0.2.1>\r\n\
//!     Call-ID: c1\r\nCSeq: 7 INVITE\r\nContact: <sip:alice@192.0.2.9:5062>\r\n\
//!     Record-Route: <sip:p1.example.net;lr>\r\nContent-Length: 0\r\n\r\n";
//! let invite = Message::parse(invite.into(), &Limits::default()).unwrap();
//! let local = LocalAddr::new(TransportKind::Udp, "192.0.2.1:5060".parse().unwrap());
//! let mut dialog = Dialog::uas(&invite, "b2", local).unwrap();
//! assert_eq!(dialog.remote_target, "sip:alice@192.0.2.9:5062");
//!
//! let bye = dialog.request(Method::Bye).build_message().unwrap();
//! assert_eq!(bye.request_uri(), Some("sip:alice@192.0.2.9:5062"));
//! assert_eq!(bye.header(voxgate_sip::message::HeaderName::Route), Some("<sip:p1.example.net;lr>"));
//! assert_eq!(bye.to_header().unwrap().tag(), Some("a1"));
//! assert_eq!(bye.from_header().unwrap().tag(), Some("b2"));
//! ```

mod local;
pub mod prack;
mod request;
pub mod retransmit;
pub mod session_timer;
mod state;
mod uri;

pub use local::LocalAddr;
pub use request::{NewRequest, NewRequestIds};
pub use retransmit::{Retransmit, RetransmitAction};
pub use session_timer::{
    Negotiated, Role, SessionTimer, SessionTimerAction, SessionTimerConfig, SessionTimerError,
    UacOffer,
};
pub use state::{Dialog, DialogKey};

use crate::message::Invalid;

/// Why a dialog could not be created from a message, or why an in-dialog
/// request was refused.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialogError {
    /// A header the dialog needs is missing or malformed.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The dialog-creating message has no usable Contact (§12.1.1, §12.1.2).
    #[error("no Contact in the dialog-creating message")]
    NoContact,
    /// The response has no To tag, so it creates no dialog (§12.1.2).
    #[error("no To tag in the response")]
    NoToTag,
    /// The request has no From tag (an RFC 2543 peer; we refuse to guess).
    #[error("no From tag")]
    NoFromTag,
    /// A request was expected but a response was given (or the reverse).
    #[error("expected a {expected}")]
    WrongKind {
        /// "request" or "response".
        expected: &'static str,
    },
    /// Only 101–299 responses create a dialog (§12.1.2).
    #[error("status {status} does not create a dialog")]
    NotDialogCreating {
        /// The response's status code.
        status: u16,
    },
    /// The response does not answer the request (Call-ID, From tag or CSeq differ).
    #[error("response does not match the request")]
    ResponseMismatch,
    /// The request's Call-ID or tags are not this dialog's.
    #[error("request is not in this dialog")]
    NotThisDialog,
    /// §12.2.2: CSeq lower than the last one received; answer 500.
    #[error("CSeq {cseq} lower than the last received {last}")]
    OutOfOrder {
        /// CSeq number of the refused request.
        cseq: u32,
        /// The dialog's remote sequence number.
        last: u32,
    },
}
