//! Timers on a simulated clock: the UAS core's 2xx retransmission (RFC 3261
//! §13.3.1.4), reliable provisionals (RFC 3262 §3), and RFC 4028 session
//! timers (negotiation §7/§9, 422, refresh/expiry instants §10).

// Tests fail loudly on purpose: unwrap/expect are the assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::time::{Duration, Instant};
use voxgate_sip::dialog::session_timer::{
    MIN_SE_FLOOR, format_session_expires, min_se_of, parse_min_se, supports_timer,
    too_small_response,
};
use voxgate_sip::dialog::{
    Negotiated, Retransmit, RetransmitAction, Role, SessionTimer, SessionTimerAction,
    SessionTimerConfig, SessionTimerError,
};
use voxgate_sip::message::{
    HeaderName, Invalid, Limits, Message, MessageBuilder, Refresher, SessionExpires,
};

fn parse(raw: &str) -> Message {
    Message::parse(Bytes::from(raw.replace('\n', "\r\n")), &Limits::default()).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Runs a schedule to its end on a virtual clock that jumps to each
/// deadline; returns the resend instants (ms after start) and the give-up.
fn run(mut r: Retransmit, t0: Instant) -> (Vec<u128>, u128) {
    let mut resends = Vec::new();
    while let Some(at) = r.next_deadline() {
        match r.on_timeout(at) {
            RetransmitAction::Resend => resends.push((at - t0).as_millis()),
            RetransmitAction::GiveUp => return (resends, (at - t0).as_millis()),
            RetransmitAction::NotYet => panic!("woken at its own deadline for nothing"),
        }
    }
    panic!("never gave up");
}

#[test]
fn two_xx_retransmits_t1_doubling_capped_at_t2_until_64_t1() {
    let t0 = Instant::now();
    let (resends, give_up) = run(Retransmit::start(t0, ms(500), secs(4)), t0);
    assert_eq!(
        resends,
        [
            500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ]
    );
    assert_eq!(give_up, 32_000);
}

#[test]
fn reliable_provisional_doubles_without_cap() {
    let t0 = Instant::now();
    let (resends, give_up) = run(Retransmit::start_provisional(t0, ms(500)), t0);
    assert_eq!(resends, [500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(give_up, 32_000);
}

#[test]
fn early_late_and_stopped_wake_ups() {
    let t0 = Instant::now();
    let mut r = Retransmit::start(t0, ms(500), secs(4));
    assert_eq!(r.next_deadline(), Some(t0 + ms(500)));
    assert_eq!(r.on_timeout(t0 + ms(499)), RetransmitAction::NotYet);
    // 20 ms late: the next one keeps the planned rhythm (1500, not 1520).
    assert_eq!(r.on_timeout(t0 + ms(520)), RetransmitAction::Resend);
    assert_eq!(r.next_deadline(), Some(t0 + ms(1500)));
    // Very late (past the next planned one): no burst, one resend, then
    // the interval from now.
    assert_eq!(r.on_timeout(t0 + ms(5000)), RetransmitAction::Resend);
    assert_eq!(r.next_deadline(), Some(t0 + ms(7000)));
    // ACK arrives.
    r.stop();
    assert!(r.is_done());
    assert_eq!(r.next_deadline(), None);
    assert_eq!(r.on_timeout(t0 + secs(40)), RetransmitAction::NotYet);
}

#[test]
fn zero_t1_does_not_busy_loop() {
    let t0 = Instant::now();
    let r = Retransmit::start(t0, Duration::ZERO, Duration::ZERO);
    assert!(r.next_deadline().unwrap() > t0);
}

// ---- RFC 4028 ----

const INVITE: &str = "INVITE sip:bob@192.0.2.1 SIP/2.0
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa1
Max-Forwards: 70
From: <sip:alice@example.com>;tag=a
To: <sip:bob@example.net>
Call-ID: c1
CSeq: 1 INVITE
Contact: <sip:alice@198.51.100.7>
";

fn invite(extra: &str) -> Message {
    parse(&format!("{INVITE}{extra}Content-Length: 0\n\n"))
}

fn cfg(se: u64, min: u64) -> SessionTimerConfig {
    SessionTimerConfig {
        session_expires: secs(se),
        min_se: secs(min),
    }
}

fn negotiated(interval: u64, refresher: Refresher, require_timer: bool) -> Negotiated {
    Negotiated {
        interval: secs(interval),
        refresher,
        require_timer,
    }
}

#[test]
fn config_defaults() {
    assert_eq!(SessionTimerConfig::default(), cfg(1800, 90));
}

#[test]
fn uas_uac_supports_no_refresher_we_refresh() {
    let c = SessionTimerConfig::default();
    let n = c
        .negotiate_uas(&invite("Supported: timer\nSession-Expires: 1800\n"))
        .unwrap();
    assert_eq!(n, negotiated(1800, Refresher::Uas, true));
    assert!(n.we_refresh(Role::Uas));
    assert!(!n.we_refresh(Role::Uac));
}

#[test]
fn uas_honours_the_uacs_refresher_and_reduces_the_interval() {
    let c = cfg(1800, 90);
    let n = c
        .negotiate_uas(&invite(
            "Supported: timer\nSession-Expires: 3600;refresher=uac\n",
        ))
        .unwrap();
    assert_eq!(n, negotiated(1800, Refresher::Uac, true));
    let n = c
        .negotiate_uas(&invite("k: timer, 100rel\nx: 600;refresher=uas\n"))
        .unwrap();
    assert_eq!(n, negotiated(600, Refresher::Uas, true), "compact forms");
}

#[test]
fn uas_never_goes_below_the_requests_min_se_nor_above_its_interval() {
    // We would like 120, the request says Min-SE 300: 300.
    let n = cfg(120, 90)
        .negotiate_uas(&invite(
            "Supported: timer\nSession-Expires: 600\nMin-SE: 300\n",
        ))
        .unwrap();
    assert_eq!(n.interval, secs(300));
    // We would like 3600, the request asks 600: never increased.
    let n = cfg(3600, 90)
        .negotiate_uas(&invite("Supported: timer\nSession-Expires: 600\n"))
        .unwrap();
    assert_eq!(n.interval, secs(600));
}

#[test]
fn uas_422_when_too_small_and_the_uac_can_retry() {
    let req = invite("Supported: timer\nSession-Expires: 60\n");
    assert_eq!(
        SessionTimerConfig::default().negotiate_uas(&req),
        Err(SessionTimerError::TooSmall { min_se: 90 })
    );
    let req = invite("Supported: timer\nSession-Expires: 100\n");
    let err = cfg(1800, 120).negotiate_uas(&req).unwrap_err();
    assert_eq!(err, SessionTimerError::TooSmall { min_se: 120 });
    let SessionTimerError::TooSmall { min_se } = err else {
        unreachable!()
    };
    let resp = too_small_response(&req, min_se, Some("t"), None)
        .build_message()
        .unwrap();
    assert_eq!(resp.status(), Some(422));
    assert_eq!(min_se_of(&resp).unwrap(), Some(120));
    assert_eq!(resp.to_header().unwrap().tag(), Some("t"));
    // A configured Min-SE below 90 still means 90.
    assert_eq!(
        cfg(1800, 10).negotiate_uas(&invite("Supported: timer\nSession-Expires: 60\n")),
        Err(SessionTimerError::TooSmall { min_se: 90 })
    );
}

#[test]
fn uas_without_uac_support() {
    let c = cfg(1800, 120);
    // A proxy inserted a too-small interval: a 422 would fail the call, so
    // the interval is raised to our minimum; we refresh; no Require.
    let n = c
        .negotiate_uas(&invite("Session-Expires: 100;refresher=uac\n"))
        .unwrap();
    assert_eq!(n, negotiated(120, Refresher::Uas, false));
    // No Session-Expires at all: we still time the session, as refresher.
    let n = c.negotiate_uas(&invite("")).unwrap();
    assert_eq!(n, negotiated(1800, Refresher::Uas, false));
}

#[test]
fn uas_adds_an_interval_when_none_was_asked() {
    let n = SessionTimerConfig::default()
        .negotiate_uas(&invite("Supported: timer\nMin-SE: 3600\n"))
        .unwrap();
    assert_eq!(n, negotiated(3600, Refresher::Uas, true));
}

#[test]
fn uas_rejects_malformed_values() {
    let c = SessionTimerConfig::default();
    assert_eq!(
        c.negotiate_uas(&invite("Session-Expires: soon\n")),
        Err(SessionTimerError::Invalid(Invalid::Malformed(
            HeaderName::SessionExpires
        )))
    );
    assert_eq!(
        c.negotiate_uas(&invite("Session-Expires: 1800\nMin-SE: -1\n")),
        Err(SessionTimerError::Invalid(Invalid::Malformed(
            HeaderName::MinSe
        )))
    );
}

#[test]
fn uas_2xx_headers_round_trip() {
    let ok = negotiated(1800, Refresher::Uac, true)
        .add_headers(MessageBuilder::response(200, "OK"))
        .build_message()
        .unwrap();
    assert_eq!(
        ok.session_expires().unwrap(),
        Some(SessionExpires {
            delta: 1800,
            refresher: Some(Refresher::Uac)
        })
    );
    assert!(ok.require().any(|t| t == "timer"));
    let ok = negotiated(90, Refresher::Uas, false)
        .add_headers(MessageBuilder::response(200, "OK"))
        .build_message()
        .unwrap();
    assert_eq!(
        ok.header(HeaderName::SessionExpires),
        Some("90;refresher=uas")
    );
    assert_eq!(ok.header(HeaderName::Require), None);
}

fn ok_with(extra: &str) -> Message {
    parse(&format!(
        "SIP/2.0 200 OK
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa1
From: <sip:alice@example.com>;tag=a
To: <sip:bob@example.net>;tag=b
Call-ID: c1
CSeq: 1 INVITE
Contact: <sip:bob@192.0.2.1>
{extra}Content-Length: 0

"
    ))
}

#[test]
fn uac_offer_and_422_retry() {
    let mut offer = SessionTimerConfig::default().uac_offer();
    let req = offer
        .add_headers(MessageBuilder::request(
            &voxgate_sip::message::Method::Invite,
            "sip:b@x",
        ))
        .header(HeaderName::Supported, "timer")
        .build_message()
        .unwrap();
    assert_eq!(
        req.session_expires().unwrap(),
        Some(SessionExpires {
            delta: 1800,
            refresher: None
        })
    );
    assert_eq!(min_se_of(&req).unwrap(), Some(90));
    assert!(supports_timer(&req));
    // The 422 asks for an hour.
    let too_small = parse(
        &ok_with("Min-SE: 3600\n")
            .raw()
            .iter()
            .map(|&b| char::from(b))
            .collect::<String>()
            .replace("200 OK", "422 Session Interval Too Small")
            .replace("\r\n", "\n"),
    );
    offer.on_422(&too_small).unwrap();
    assert_eq!((offer.session_expires, offer.min_se), (3600, 3600));
    // A 422 without Min-SE cannot be retried.
    assert_eq!(
        offer.on_422(&ok_with("")),
        Err(SessionTimerError::Invalid(Invalid::Missing(
            HeaderName::MinSe
        )))
    );
}

#[test]
fn uac_from_the_2xx() {
    let offer = SessionTimerConfig::default().uac_offer();
    let n = offer
        .negotiate(&ok_with(
            "Require: timer\nSession-Expires: 900;refresher=uac\n",
        ))
        .unwrap();
    assert_eq!(n, negotiated(900, Refresher::Uac, false));
    assert!(n.timer(Role::Uac, Instant::now()).we_refresh);
    let n = offer
        .negotiate(&ok_with("Session-Expires: 900;refresher=uas\n"))
        .unwrap();
    assert!(!n.timer(Role::Uac, Instant::now()).we_refresh);
    // §7.2: no Session-Expires in the 2xx: the UAS does not do timers; we
    // refresh at the interval we asked for.
    let n = offer.negotiate(&ok_with("")).unwrap();
    assert_eq!(n, negotiated(1800, Refresher::Uac, false));
    // A broken UAS that names no refresher, or an interval below 90 s.
    let n = offer.negotiate(&ok_with("Session-Expires: 30\n")).unwrap();
    assert_eq!(
        n,
        negotiated(u64::from(MIN_SE_FLOOR), Refresher::Uac, false)
    );
}

#[test]
fn refresh_and_expiry_instants_10() {
    let t0 = Instant::now();
    let t = SessionTimer::new(secs(1800), true, t0);
    assert_eq!(t.refresh_at(), t0 + secs(900));
    assert_eq!(t.expires_at(), t0 + secs(1800 - 32));
    // Short intervals: a third, not 32 s.
    let t = SessionTimer::new(secs(90), false, t0);
    assert_eq!(t.refresh_at(), t0 + secs(45));
    assert_eq!(t.expires_at(), t0 + secs(60));
}

#[test]
fn refresher_refreshes_at_half_then_expires_if_refreshes_fail() {
    let t0 = Instant::now();
    let mut t = negotiated(1800, Refresher::Uas, true).timer(Role::Uas, t0);
    assert!(t.we_refresh);
    assert_eq!(t.next_deadline(), t0 + secs(900));
    assert_eq!(t.on_timeout(t0 + secs(899)), SessionTimerAction::NotYet);
    assert_eq!(t.on_timeout(t0 + secs(900)), SessionTimerAction::Refresh);
    // Once per period.
    assert_eq!(t.on_timeout(t0 + secs(901)), SessionTimerAction::NotYet);
    assert_eq!(t.next_deadline(), t0 + secs(1768));
    // The refresh's 2xx at 902 s starts a new period.
    t.refreshed(t0 + secs(902));
    assert_eq!(t.next_deadline(), t0 + secs(902 + 900));
    assert_eq!(t.on_timeout(t0 + secs(1802)), SessionTimerAction::Refresh);
    // This time no 2xx comes back.
    let at = t.next_deadline();
    assert_eq!(at, t0 + secs(902 + 1768));
    assert_eq!(t.on_timeout(at), SessionTimerAction::Expire);
}

#[test]
fn non_refresher_tears_down_unless_refreshed() {
    let t0 = Instant::now();
    let mut t = negotiated(600, Refresher::Uac, true).timer(Role::Uas, t0);
    assert!(!t.we_refresh);
    // 600 - min(32, 200) = 568.
    assert_eq!(t.next_deadline(), t0 + secs(568));
    assert_eq!(t.on_timeout(t0 + secs(300)), SessionTimerAction::NotYet);
    // The peer's re-INVITE at 300 s.
    t.refreshed(t0 + secs(300));
    assert_eq!(t.next_deadline(), t0 + secs(868));
    assert_eq!(t.on_timeout(t0 + secs(868)), SessionTimerAction::Expire);
}

#[test]
fn refresh_offer_keeps_the_refresher() {
    let c = SessionTimerConfig::default();
    let t0 = Instant::now();
    // We are the UAS-side refresher; in our refresh we are the UAC.
    let ours = negotiated(900, Refresher::Uas, true).timer(Role::Uas, t0);
    let offer = ours.refresh_offer(&c);
    assert_eq!(offer.session_expires, 900);
    assert_eq!(offer.refresher, Some(Refresher::Uac));
    // The peer's 2xx echoes refresher=uac: we still refresh.
    let n = offer
        .negotiate(&ok_with("Session-Expires: 900;refresher=uac\n"))
        .unwrap();
    assert!(n.timer(Role::Uac, t0).we_refresh);
    // The peer refreshes: our refresh (e.g. a re-INVITE for hold) says uas.
    let theirs = negotiated(900, Refresher::Uac, true).timer(Role::Uas, t0);
    assert_eq!(theirs.refresh_offer(&c).refresher, Some(Refresher::Uas));
}

#[test]
fn header_values_round_trip() {
    for (delta, r) in [
        (90, None),
        (1800, Some(Refresher::Uac)),
        (u32::MAX, Some(Refresher::Uas)),
    ] {
        let v = format_session_expires(delta, r);
        assert_eq!(
            SessionExpires::parse(&v),
            Some(SessionExpires {
                delta,
                refresher: r
            })
        );
    }
    assert_eq!(parse_min_se("90"), Some(90));
    assert_eq!(parse_min_se(" 3600 ;x=1"), Some(3600));
    assert_eq!(parse_min_se(""), None);
    assert_eq!(parse_min_se("9x"), None);
    assert_eq!(parse_min_se("99999999999"), None);
}
