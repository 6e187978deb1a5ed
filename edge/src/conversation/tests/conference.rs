//! Conferences on the virtual clock, with `NoMedia`: three answered legs
//! mixed (whatever G.711 law each negotiated, without a re-INVITE), legs
//! leaving, muted and listening only, moving to and from bridges and hold,
//! the boundary checks, and conferences without a control plane.

use super::*;
use crate::control_plane::{ConferenceId, ConferenceRole, MAX_CONFERENCE};
use voxgate_media::Membership;
use voxgate_media::mixer::Role;

fn cmd(h: &mut Harness, command: Command) -> Out {
    h.feed(Input::Command(command))
}

/// A PCMA-only answer from a callee.
const SDP_B_PCMA: &str = "v=0\r\n\
o=pbx 2000 1 IN IP4 10.2.2.3\r\n\
s=-\r\n\
c=IN IP4 10.2.2.3\r\n\
t=0 0\r\n\
m=audio 32002 RTP/AVP 8 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n";

/// The caller answered by voxgate (PCMU), and two agents dialled and
/// answered, unbridged: leg 2 in PCMU, leg 3 in PCMA.
fn three_legs() -> (Harness, BSide, BSide) {
    let (mut h, _) = Harness::new(CALLS);
    cmd(
        &mut h,
        Command::Answer {
            leg: LegId(1),
            early: false,
        },
    );
    let ack = h.a_ack(1, None);
    h.feed(ack);
    let answer = |h: &mut Harness, uri: &str, sdp: &str| {
        let out = cmd(h, Command::Dial(Dial::new(vec![dest(uri)])));
        let b = BSide::new(out.sent(Method::Invite));
        h.feed(b.response(200, "", Some(sdp)));
        b
    };
    let b2 = answer(&mut h, B1, SDP_B);
    let b3 = answer(&mut h, B2, SDP_B_PCMA);
    for leg in 1..=3 {
        assert_eq!(h.call.leg(LegId(leg)).unwrap().state_name(), "answered");
    }
    (h, b2, b3)
}

fn conference(legs: &[u32]) -> Command {
    Command::Conference {
        legs: legs.iter().map(|&l| LegId(l)).collect(),
    }
}

fn joined(conference: u32, leg: u32) -> Event {
    Event::ConferenceJoined {
        conference: ConferenceId(conference),
        leg: LegId(leg),
        role: ConferenceRole::Speaker,
        muted: false,
    }
}

fn left(conference: u32, leg: u32) -> Event {
    Event::ConferenceLeft {
        conference: ConferenceId(conference),
        leg: LegId(leg),
    }
}

/// The conference membership `leg`'s endpoint was last told.
fn mixed(h: &Harness, leg: u32) -> Option<Membership> {
    let ep = h.call.leg(LegId(leg))?.endpoint?;
    h.call.media.conference_of(ep)
}

fn speaker(conference: u32) -> Option<Membership> {
    Some(Membership::speaker(voxgate_media::ConferenceId(conference)))
}

fn errors(out: &Out) -> Vec<(&'static str, CommandError)> {
    out.events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Error { command, error } => Some((command, error)),
            _ => None,
        })
        .collect()
}

#[test]
fn three_legs_are_mixed_then_one_leaves_one_is_muted_one_listens() {
    let (mut h, _, _) = three_legs();
    let out = cmd(&mut h, conference(&[1, 2, 3]));
    assert_eq!(out.events(), vec![joined(1, 1), joined(1, 2), joined(1, 3)]);
    // PCMU and PCMA legs together: the mixer decodes each, nobody is re-INVITEd.
    assert!(out.sends().is_empty(), "{:?}", out.methods());
    for leg in 1..=3 {
        assert_eq!(mixed(&h, leg), speaker(1), "leg {leg}");
    }
    assert!(h.call.media.bridges.is_empty());
    let summary = h.call.leg_summaries();
    assert!(
        summary.iter().all(|l| l.conference == Some(1)),
        "{summary:?}"
    );

    let out = cmd(&mut h, Command::LeaveConference { leg: LegId(2) });
    assert_eq!(out.events(), vec![left(1, 2)]);
    assert_eq!(mixed(&h, 2), None);
    assert_eq!(h.call.conference_size(ConferenceId(1)), 2);

    let out = cmd(
        &mut h,
        Command::Mute {
            leg: LegId(3),
            muted: true,
        },
    );
    assert_eq!(
        out.events(),
        vec![Event::ConferenceUpdated {
            conference: ConferenceId(1),
            leg: LegId(3),
            role: ConferenceRole::Speaker,
            muted: true
        }]
    );
    assert_eq!(mixed(&h, 3).map(|m| m.muted), Some(true));
    // Muting again changes nothing.
    let again = cmd(
        &mut h,
        Command::Mute {
            leg: LegId(3),
            muted: true,
        },
    );
    assert!(again.events().is_empty());

    let out = cmd(
        &mut h,
        Command::SetRole {
            leg: LegId(1),
            role: ConferenceRole::Listener,
        },
    );
    assert_eq!(
        out.events(),
        vec![Event::ConferenceUpdated {
            conference: ConferenceId(1),
            leg: LegId(1),
            role: ConferenceRole::Listener,
            muted: false
        }]
    );
    assert_eq!(mixed(&h, 1).map(|m| m.role), Some(Role::Monitor));

    // Leg 2 joins back, listening only.
    let out = cmd(
        &mut h,
        Command::JoinConference {
            conference: ConferenceId(1),
            leg: LegId(2),
            role: ConferenceRole::Listener,
        },
    );
    assert_eq!(
        out.events(),
        vec![Event::ConferenceJoined {
            conference: ConferenceId(1),
            leg: LegId(2),
            role: ConferenceRole::Listener,
            muted: false
        }]
    );
    assert_eq!(mixed(&h, 2).map(|m| m.role), Some(Role::Monitor));

    // Leg 3's peer hangs up: its end, then its leaving.
    let ep3 = h.call.leg(LegId(3)).unwrap().endpoint.unwrap();
    let bye = {
        let l = h.call.leg(LegId(3)).unwrap();
        let d = l.sig.dialog.as_ref().unwrap();
        let call_id = d.call_id.clone();
        let (local, remote) = (d.local_tag.clone(), d.remote_tag.clone());
        parse(&format!(
            "BYE sip:voxgate@192.0.2.10:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 203.0.113.8:5060;branch=z9hG4bKbye3\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:+15550100@203.0.113.8>;tag={remote}\r\n\
             To: <sip:+15551234@192.0.2.10>;tag={local}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 9 BYE\r\n\
             Content-Length: 0\r\n\r\n"
        ))
    };
    let out = h.feed(Input::Request {
        tx: TxId::next(),
        request: bye,
        from: udp("203.0.113.8:5060"),
    });
    let events = out.events();
    let ended = events
        .iter()
        .position(|e| matches!(e, Event::LegEnded { leg: LegId(3), .. }))
        .expect("leg 3 ended");
    let gone = events.iter().position(|e| *e == left(1, 3)).expect("left");
    assert!(ended < gone, "{events:?}");
    assert_eq!(h.call.media.conference_of(ep3), None);
    assert_eq!(h.call.conference_size(ConferenceId(1)), 2);
}

#[test]
fn conference_commands_are_checked_at_the_boundary() {
    let (mut h, _, _) = three_legs();
    // A fourth leg, ringing.
    let out = cmd(&mut h, Command::Dial(Dial::new(vec![dest(B1)])));
    let b4 = BSide::new(out.sent(Method::Invite));
    h.feed(b4.response(180, "", None));
    let too_many: Vec<u32> = (1..=MAX_CONFERENCE as u32 + 1).collect();
    let cases: Vec<(Command, CommandError)> = vec![
        (
            conference(&[]),
            CommandError::ConferenceSize {
                count: 0,
                limit: MAX_CONFERENCE,
            },
        ),
        (
            conference(&too_many),
            CommandError::ConferenceSize {
                count: MAX_CONFERENCE + 1,
                limit: MAX_CONFERENCE,
            },
        ),
        (
            conference(&[1, 2, 1]),
            CommandError::SameLeg { leg: LegId(1) },
        ),
        (
            conference(&[1, 9]),
            CommandError::UnknownLeg { leg: LegId(9) },
        ),
        (
            conference(&[1, 4]),
            CommandError::LegState {
                leg: LegId(4),
                state: "ringing",
                wanted: "a conference needs answered legs",
            },
        ),
        (
            Command::JoinConference {
                conference: ConferenceId(1),
                leg: LegId(1),
                role: ConferenceRole::Speaker,
            },
            CommandError::UnknownConference {
                conference: ConferenceId(1),
            },
        ),
        (
            Command::Mute {
                leg: LegId(2),
                muted: true,
            },
            CommandError::NotInConference { leg: LegId(2) },
        ),
        (
            Command::SetRole {
                leg: LegId(2),
                role: ConferenceRole::Listener,
            },
            CommandError::NotInConference { leg: LegId(2) },
        ),
        (
            Command::LeaveConference { leg: LegId(3) },
            CommandError::NotInConference { leg: LegId(3) },
        ),
        (
            Command::LeaveConference { leg: LegId(7) },
            CommandError::UnknownLeg { leg: LegId(7) },
        ),
    ];
    for (command, error) in cases {
        let name = command.name();
        let out = cmd(&mut h, command);
        assert_eq!(errors(&out), vec![(name, error)]);
        assert_eq!(out.events().len(), 1, "nothing else happened");
    }
    assert!(h.call.media.conferences.is_empty());
    // A leg without a codec voxgate decodes (DTLS-SRTP end to end, say).
    h.call.leg_mut(LegId(3)).unwrap().format = None;
    let out = cmd(&mut h, conference(&[1, 3]));
    assert_eq!(
        errors(&out),
        vec![("conference", CommandError::NoCodec { leg: LegId(3) })]
    );
    // Every Conference took an id, refused or not: the next is the 7th.
    let out = cmd(&mut h, conference(&[1, 2]));
    assert_eq!(out.events(), vec![joined(7, 1), joined(7, 2)]);
}

#[test]
fn a_bridge_or_a_hold_takes_a_leg_out_and_resume_brings_it_back() {
    let (mut h, _, _) = three_legs();
    cmd(&mut h, conference(&[1, 2, 3]));
    // Legs 1 and 2 (both PCMU) are bridged: relayed, out of the conference.
    let out = cmd(
        &mut h,
        Command::Bridge {
            a: LegId(1),
            b: LegId(2),
        },
    );
    assert_eq!(
        out.events(),
        vec![
            left(1, 1),
            left(1, 2),
            Event::Bridged {
                a: LegId(1),
                b: LegId(2)
            }
        ]
    );
    assert_eq!(
        h.call.media.bridged_with(EndpointId(0)),
        Some(EndpointId(1))
    );
    assert_eq!((mixed(&h, 1), mixed(&h, 2)), (None, None));
    assert_eq!(mixed(&h, 3), speaker(1), "alone, still in it");
    // Leg 1 joins again: out of its bridge.
    let out = cmd(
        &mut h,
        Command::JoinConference {
            conference: ConferenceId(1),
            leg: LegId(1),
            role: ConferenceRole::Speaker,
        },
    );
    assert_eq!(
        out.events(),
        vec![
            Event::Unbridged {
                a: LegId(1),
                b: LegId(2)
            },
            joined(1, 1)
        ]
    );
    assert!(h.call.media.bridges.is_empty());
    // Hold: out by re-INVITE sendonly; Resume: back in.
    let out = cmd(&mut h, Command::Hold { leg: LegId(1) });
    assert_eq!(out.events(), vec![left(1, 1)]);
    let reinvite = out.sent_to(Method::Invite, A_ADDR);
    let out = h.a_answers(&reinvite, 200, Some(SDP_A_HOLD));
    assert!(out.events().contains(&Event::Held {
        leg: LegId(1),
        by: Side::Control
    }));
    assert_eq!(mixed(&h, 1), None);
    let out = cmd(&mut h, Command::Resume { leg: LegId(1) });
    assert_eq!(out.events(), vec![joined(1, 1)], "back where it was");
    assert_eq!(mixed(&h, 1), speaker(1));
    let reinvite = out.sent_to(Method::Invite, A_ADDR);
    let out = h.a_answers(&reinvite, 200, Some(SDP_A));
    assert!(out.events().contains(&Event::Resumed {
        leg: LegId(1),
        by: Side::Control
    }));
    // Unbridge takes a member out too.
    let out = cmd(&mut h, Command::Unbridge { leg: LegId(3) });
    assert_eq!(out.events(), vec![left(1, 3)]);
    // A conference whose last leg left is over: joining it is an error.
    cmd(&mut h, Command::LeaveConference { leg: LegId(1) });
    let out = cmd(
        &mut h,
        Command::JoinConference {
            conference: ConferenceId(1),
            leg: LegId(2),
            role: ConferenceRole::Speaker,
        },
    );
    assert_eq!(
        errors(&out),
        vec![(
            "join_conference",
            CommandError::UnknownConference {
                conference: ConferenceId(1)
            }
        )]
    );
}

#[test]
fn without_a_control_plane_a_conference_lasts_while_two_are_in_it() {
    let (mut h, _, _) = three_legs();
    cmd(&mut h, conference(&[1, 2]));
    // Leg 3 is carried by nothing: hung up; the conference of two stays.
    let out = h.feed(Input::ControlGone);
    assert!(out.events().contains(&Event::LegEnded {
        leg: LegId(3),
        side: Side::Edge,
        cause: EndCause::ControlLost
    }));
    assert!(h.call.leg(LegId(1)).unwrap().is_live());
    assert!(h.call.leg(LegId(2)).unwrap().is_live());
    // Leg 2 is hung up: leg 1 is alone in it, and hung up too.
    let ep1 = h.call.leg(LegId(1)).unwrap().endpoint.unwrap();
    let out = cmd(
        &mut h,
        Command::Hangup {
            leg: Some(LegId(2)),
            status: None,
        },
    );
    let events = out.events();
    assert!(events.contains(&left(1, 2)), "{events:?}");
    assert!(events.contains(&Event::LegEnded {
        leg: LegId(1),
        side: Side::Edge,
        cause: EndCause::ControlLost
    }));
    assert!(!h.call.media.is_open(ep1));
}
