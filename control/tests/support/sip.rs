//! Fake SIP user agents over real UDP sockets on loopback: just enough SIP to place,
//! answer and end calls through a running edge, with every message checked by voxgate's
//! own parser.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use voxgate_sip::message::{HeaderName, Limits, Message, Method};

/// How long a test waits for any one SIP message.
pub const WAIT: Duration = Duration::from_secs(5);

static NEXT: AtomicU32 = AtomicU32::new(1);

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// One fake user agent on its own UDP port.
pub struct Ua {
    socket: UdpSocket,
    /// Its address.
    pub addr: SocketAddr,
}

impl Ua {
    /// A user agent on 127.0.0.1, port chosen by the OS.
    pub async fn bind() -> Ua {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        Ua { socket, addr }
    }

    /// Sends `text` to `to`.
    pub async fn send(&self, to: SocketAddr, text: &str) {
        self.socket.send_to(text.as_bytes(), to).await.unwrap();
    }

    /// The next message and where it came from; panics after [`WAIT`].
    pub async fn recv(&self) -> (Message, SocketAddr) {
        let mut buf = vec![0u8; 65_536];
        let (n, from) = tokio::time::timeout(WAIT, self.socket.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{}: no SIP message within {WAIT:?}", self.addr))
            .unwrap();
        buf.truncate(n);
        let message = Message::parse(Bytes::from(buf), &Limits::default()).unwrap();
        (message, from)
    }

    /// The next request with `method`, skipping others (retransmitted responses).
    pub async fn request(&self, method: Method) -> (Message, SocketAddr) {
        loop {
            let (m, from) = self.recv().await;
            if m.method() == Some(&method) {
                return (m, from);
            }
        }
    }

    /// The next final response (provisionals skipped).
    pub async fn final_response(&self) -> Message {
        loop {
            let (m, _) = self.recv().await;
            if m.status().is_some_and(|s| s >= 200) {
                return m;
            }
        }
    }

    /// Answers `request` with `status` (`to_tag` added to To when it has none), and the
    /// SDP of this UA when `sdp`.
    pub async fn respond(
        &self,
        request: &Message,
        to: SocketAddr,
        status: u16,
        to_tag: &str,
        sdp: bool,
    ) {
        let text = response(request, status, to_tag, self.addr, sdp.then(|| self.sdp()));
        self.send(to, &text).await;
    }

    /// This UA's SDP: one PCMU/PCMA line on a port nobody listens on (no RTP is sent).
    pub fn sdp(&self) -> String {
        format!(
            "v=0\r\no=ua 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
            self.addr.port() + 1000
        )
    }
}

/// A response to `request`: its Vias, From, Call-ID and CSeq, its To with `to_tag`.
pub fn response(
    request: &Message,
    status: u16,
    to_tag: &str,
    contact: SocketAddr,
    sdp: Option<String>,
) -> String {
    let mut out = format!("SIP/2.0 {status} {}\r\n", reason(status));
    for via in request.header_lines(HeaderName::Via) {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    out.push_str(&format!(
        "From: {}\r\n",
        request.header(HeaderName::From).unwrap()
    ));
    let to = request.header(HeaderName::To).unwrap();
    if to.contains(";tag=") || status == 100 {
        out.push_str(&format!("To: {to}\r\n"));
    } else {
        out.push_str(&format!("To: {to};tag={to_tag}\r\n"));
    }
    out.push_str(&format!("Call-ID: {}\r\n", request.call_id().unwrap()));
    out.push_str(&format!(
        "CSeq: {}\r\n",
        request.header(HeaderName::CSeq).unwrap()
    ));
    out.push_str(&format!("Contact: <sip:ua@{contact}>\r\n"));
    match sdp {
        Some(body) => out.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
        None => out.push_str("Content-Length: 0\r\n\r\n"),
    }
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        200 => "OK",
        _ => "Whatever",
    }
}

/// A callee: answers the next INVITE (180, then 200 with SDP) and takes its ACK.
pub async fn answer_invite(ua: &Ua) -> Dialog {
    let (invite, from) = ua.request(Method::Invite).await;
    let tag = unique("uas");
    ua.respond(&invite, from, 180, &tag, false).await;
    ua.respond(&invite, from, 200, &tag, true).await;
    let (ack, _) = ua.request(Method::Ack).await;
    assert_eq!(ack.call_id().unwrap(), invite.call_id().unwrap());
    Dialog {
        call_id: invite.call_id().unwrap().to_owned(),
        peer: from,
        invite,
        local_tag: tag,
    }
}

/// Answers the next re-INVITE 200 with SDP answering its direction, takes its ACK;
/// returns the offer.
pub async fn answer_reinvite(ua: &Ua) -> String {
    let (invite, from) = ua.request(Method::Invite).await;
    let offer = String::from_utf8_lossy(invite.body()).into_owned();
    let direction = if offer.contains("a=sendonly") {
        "a=recvonly"
    } else if offer.contains("a=inactive") {
        "a=inactive"
    } else {
        "a=sendrecv"
    };
    let sdp = ua.sdp().replace("a=sendrecv", direction);
    let text = response(&invite, 200, "", ua.addr, Some(sdp));
    ua.send(from, &text).await;
    let (ack, _) = ua.request(Method::Ack).await;
    assert_eq!(ack.call_id().unwrap(), invite.call_id().unwrap());
    offer
}

/// A dialog a fake UA is in.
pub struct Dialog {
    /// Its Call-ID.
    pub call_id: String,
    /// Where voxgate sends from.
    pub peer: SocketAddr,
    /// The INVITE that made it (voxgate's, for a callee).
    pub invite: Message,
    /// Our tag.
    pub local_tag: String,
}

impl Dialog {
    /// The callee sends a REFER to `target` in this dialog; returns its final response,
    /// answering the NOTIFYs that come first.
    pub async fn refer(&self, ua: &Ua, target: &str) -> Message {
        let remote_target = self
            .invite
            .contacts()
            .next()
            .and_then(Result::ok)
            .map(|c| c.uri.to_owned())
            .unwrap();
        let from = self.invite.header(HeaderName::From).unwrap();
        let to = self.invite.header(HeaderName::To).unwrap();
        let text = format!(
            "REFER {remote_target} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bK{branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: {to};tag={tag}\r\n\
             To: {from}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 REFER\r\n\
             Contact: <sip:ua@{me}>\r\n\
             Refer-To: <{target}>\r\n\
             Content-Length: 0\r\n\r\n",
            me = ua.addr,
            branch = unique("b"),
            tag = self.local_tag,
            call_id = self.call_id,
        );
        ua.send(self.peer, &text).await;
        loop {
            let (m, from) = ua.recv().await;
            match (m.method(), m.status()) {
                (Some(Method::Notify), _) => ua.respond(&m, from, 200, "", false).await,
                (None, Some(s)) if s >= 200 => return m,
                _ => {}
            }
        }
    }

    /// Answers the NOTIFYs of a transfer (RFC 3515) until one says the subscription
    /// is terminated; returns their sipfrag bodies.
    pub async fn notifies(&self, ua: &Ua) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let (notify, from) = ua.request(Method::Notify).await;
            ua.respond(&notify, from, 200, "", false).await;
            bodies.push(String::from_utf8_lossy(notify.body()).trim().to_owned());
            let state = notify
                .header_by_name("Subscription-State")
                .unwrap_or_default();
            if state.starts_with("terminated") {
                return bodies;
            }
        }
    }
}

/// Takes the next BYE (of `call_id`) and answers 200.
pub async fn take_bye(ua: &Ua, call_id: &str) {
    let (bye, from) = ua.request(Method::Bye).await;
    assert_eq!(bye.call_id().unwrap(), call_id);
    ua.respond(&bye, from, 200, "", false).await;
}

/// A caller's call through voxgate.
pub struct Call {
    /// Its Call-ID.
    pub call_id: String,
    from_tag: String,
    /// voxgate's To tag, once answered.
    pub to_tag: Option<String>,
    /// The Request-URI of in-dialog requests (voxgate's Contact).
    pub remote_target: Option<String>,
    to: String,
    voxgate: SocketAddr,
    me: SocketAddr,
    cseq: u32,
}

/// Sends an INVITE with SDP for `user` to voxgate at `voxgate`.
pub async fn invite(ua: &Ua, voxgate: SocketAddr, user: &str) -> Call {
    let call = Call {
        call_id: unique("call-") + "@test",
        from_tag: unique("uac"),
        to_tag: None,
        remote_target: None,
        to: format!("<sip:{user}@{voxgate}>"),
        voxgate,
        me: ua.addr,
        cseq: 1,
    };
    let sdp = ua.sdp();
    let text = format!(
        "INVITE sip:{user}@{voxgate} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"Alice\" <sip:alice@{me}>;tag={tag}\r\n\
         To: {to}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@{me}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {len}\r\n\r\n{sdp}",
        me = ua.addr,
        branch = unique("b"),
        tag = call.from_tag,
        to = call.to,
        call_id = call.call_id,
        len = sdp.len(),
    );
    ua.send(voxgate, &text).await;
    call
}

impl Call {
    /// Notes the dialog of a 2xx and ACKs it.
    pub async fn ack(&mut self, ua: &Ua, ok: &Message) {
        self.to_tag = ok.to_header().ok().and_then(|t| t.tag()).map(str::to_owned);
        self.remote_target = ok
            .contacts()
            .next()
            .and_then(Result::ok)
            .map(|c| c.uri.to_owned());
        let request = self.in_dialog("ACK", 1);
        ua.send(self.voxgate, &request).await;
    }

    /// Sends a BYE and waits for its 200.
    pub async fn bye(&mut self, ua: &Ua) {
        self.cseq += 1;
        let request = self.in_dialog("BYE", self.cseq);
        ua.send(self.voxgate, &request).await;
        let ok = ua.final_response().await;
        assert_eq!(ok.status(), Some(200));
    }

    /// Sends a REFER to `target`; returns its final response.
    pub async fn refer(&mut self, ua: &Ua, target: &str) -> Message {
        self.cseq += 1;
        let request = self.in_dialog("REFER", self.cseq).replace(
            "Content-Length: 0\r\n",
            &format!("Refer-To: <{target}>\r\nContent-Length: 0\r\n"),
        );
        ua.send(self.voxgate, &request).await;
        ua.final_response().await
    }

    fn in_dialog(&self, method: &str, cseq: u32) -> String {
        let target = self
            .remote_target
            .clone()
            .unwrap_or_else(|| format!("sip:{}", self.voxgate));
        let to_tag = self.to_tag.as_deref().unwrap_or_default();
        format!(
            "{method} {target} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bK{branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: \"Alice\" <sip:alice@{me}>;tag={from_tag}\r\n\
             To: {to};tag={to_tag}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n\
             Content-Length: 0\r\n\r\n",
            me = self.me,
            branch = unique("b"),
            from_tag = self.from_tag,
            to = self.to,
            call_id = self.call_id,
        )
    }
}
