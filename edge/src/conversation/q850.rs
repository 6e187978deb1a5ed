//! The ITU-T Q.850 cause a CDR gives for a call's end, for billing systems
//! that speak ISDN causes: SIP statuses map by RFC 3398's table of responses
//! to causes (the causes RFC 3326's Reason header carries), voxgate's own end
//! causes as the nearest Q.850 class.

use crate::control_plane::EndCause;

/// Normal call clearing.
const NORMAL_CLEARING: u8 = 16;
/// Temporary failure.
const TEMPORARY_FAILURE: u8 = 41;
/// Recovery on timer expiry.
const TIMER_EXPIRY: u8 = 102;
/// Interworking, unspecified.
const INTERWORKING: u8 = 127;

/// The Q.850 cause of a call that ended with `cause` and, before answer,
/// final `status`.
pub fn cause(cause: EndCause, status: Option<u16>) -> u8 {
    match cause {
        EndCause::Rejected(s) => of_status(s),
        // The caller gave up, or a party hung up: both are normal clearing
        // in Q.850 (the caller's "user requested" release).
        EndCause::Normal | EndCause::Cancelled | EndCause::Replaced | EndCause::Transferred => {
            match status {
                Some(s) if cause != EndCause::Cancelled && s >= 300 => of_status(s),
                _ => NORMAL_CLEARING,
            }
        }
        EndCause::MediaTimeout | EndCause::SessionExpired | EndCause::NoAck | EndCause::Idle => {
            TIMER_EXPIRY
        }
        EndCause::Shutdown | EndCause::ControlLost | EndCause::ControlOverflow => TEMPORARY_FAILURE,
    }
}

/// The Q.850 cause of an RFC 3326 `Reason` header of `message`
/// (`Reason: Q.850;cause=16;text="..."`), if it has one in range (1–127).
pub fn of_reason(message: &voxgate_sip::message::Message) -> Option<u8> {
    message
        .header_values(voxgate_sip::message::HeaderName::Reason)
        .find_map(|value| {
            let mut params = value.split(';');
            if !params.next()?.trim().eq_ignore_ascii_case("Q.850") {
                return None;
            }
            params.find_map(|p| {
                let (k, v) = p.split_once('=')?;
                if !k.trim().eq_ignore_ascii_case("cause") {
                    return None;
                }
                v.trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|c| (1..=127).contains(c))
            })
        })
}

/// RFC 3398: a final SIP status as a Q.850 cause. 487 and 488/606 have no
/// entry there: 487 (a cancelled request) is normal clearing, 488/606
/// "bearer capability not presently available" (58), the cause RFC 3398
/// maps the other way to 488. An unknown status counts as its class's
/// x00 (RFC 3261 §8.1.3.2).
pub fn of_status(status: u16) -> u8 {
    match status {
        200..=299 => NORMAL_CLEARING,
        400 => TEMPORARY_FAILURE,
        401 | 402 | 403 | 407 | 603 => 21,
        404 | 485 | 604 => 1,
        405 => 63,
        406 | 415 | 501 => 79,
        408 | 504 => TIMER_EXPIRY,
        410 => 22,
        480 => 18,
        481 | 500 | 503 => TEMPORARY_FAILURE,
        482 | 483 => 25,
        484 => 28,
        486 | 600 => 17,
        487 => NORMAL_CLEARING,
        488 | 606 => 58,
        502 => 38,
        413 | 414 | 416 | 420 | 421 | 423 | 505 | 513 => INTERWORKING,
        401..=499 => of_status(400),
        501..=599 => of_status(500),
        601..=699 => of_status(600),
        _ => INTERWORKING,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_as_rfc_3398() {
        for (status, q850) in [
            (404, 1),
            (403, 21),
            (486, 17),
            (480, 18),
            (503, 41),
            (408, 102),
            (484, 28),
            (502, 38),
            (603, 21),
            (410, 22),
            (420, 127),
            (599, 41),
            (499, 41),
            (699, 17),
            (302, 127),
        ] {
            assert_eq!(of_status(status), q850, "{status}");
        }
    }

    #[test]
    fn a_reason_header_gives_its_q850_cause() {
        use voxgate_sip::message::{Limits, Message};
        let bye = |reason: &str| {
            let text = format!(
                "BYE sip:a@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK1\r\n\
                 From: <sip:b@x>;tag=1\r\nTo: <sip:a@x>;tag=2\r\nCall-ID: c\r\n\
                 CSeq: 2 BYE\r\n{reason}Content-Length: 0\r\n\r\n"
            );
            Message::parse(bytes::Bytes::from(text), &Limits::default()).unwrap()
        };
        assert_eq!(
            of_reason(&bye("Reason: Q.850;cause=34;text=\"No circuit\"\r\n")),
            Some(34)
        );
        assert_eq!(
            of_reason(&bye("Reason: SIP;cause=200, q.850 ; cause = 17\r\n")),
            Some(17)
        );
        assert_eq!(of_reason(&bye("Reason: SIP;cause=480\r\n")), None);
        assert_eq!(of_reason(&bye("Reason: Q.850;cause=999\r\n")), None);
        assert_eq!(of_reason(&bye("")), None);
    }

    #[test]
    fn end_causes_map_to_their_class() {
        assert_eq!(cause(EndCause::Normal, None), 16);
        assert_eq!(cause(EndCause::Cancelled, Some(487)), 16);
        assert_eq!(cause(EndCause::Rejected(404), Some(404)), 1);
        assert_eq!(cause(EndCause::MediaTimeout, None), 102);
        assert_eq!(cause(EndCause::Shutdown, None), 41);
    }
}
