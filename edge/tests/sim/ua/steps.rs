//! What a simulated UA does of its own accord: the script (call, cancel,
//! ring and answer, hang up, refer, re-INVITE) and the requests it sends.

use super::{By, Incoming, Leg, Sent, Ua, next_hop, udp};
use crate::network::Ctx;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use voxgate_sip::dialog::{Dialog, NewRequest, Retransmit};
use voxgate_sip::message::{HeaderName, Limits, Message, Method, cancel_for, response_to};
use voxgate_sip::transaction::TxId;

/// The caller's INVITE.
#[derive(Clone, Debug)]
pub struct Call {
    /// When it is sent, from the start of the run.
    pub at: Duration,
    /// Where to (voxgate).
    pub to: SocketAddr,
    /// The Request-URI.
    pub uri: String,
}

/// How a UA answers an initial INVITE.
#[derive(Clone, Debug, Default)]
pub enum Answer {
    /// It is not called (a caller): 603.
    #[default]
    Refuse,
    /// 180 after `ring`, then 200 from each tag after its delay (two tags:
    /// the forks of a forking proxy behind one address).
    Ring {
        /// Until 180.
        ring: Duration,
        /// (delay after the INVITE, To tag) of each 2xx.
        answers: Vec<(Duration, &'static str)>,
    },
    /// A final failure `status` after `after`.
    Reject {
        /// Until the response.
        after: Duration,
        /// The status (486, 503, ...).
        status: u16,
    },
    /// 180 at once and nothing more (until CANCEL).
    RingForever,
}

impl Answer {
    /// The To tag of the UA's provisional and failure responses.
    pub fn first_tag(&self) -> &'static str {
        match self {
            Answer::Ring { answers, .. } => answers.first().map_or("t1", |a| a.1),
            _ => "t1",
        }
    }
}

/// What a UA does on its own.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// The caller's INVITE.
    pub call: Option<Call>,
    /// CANCEL this long after the first 180 (so that the race with an
    /// answer that follows the 180 does not depend on the link's delay).
    pub cancel_after_ringing: Option<Duration>,
    /// CANCEL at this instant of the run (once a provisional came, §9.1).
    pub cancel_at: Option<Duration>,
    /// How an initial INVITE is answered.
    pub answer: Answer,
    /// BYE this long after the dialog is confirmed.
    pub hangup_after: Option<Duration>,
    /// BYE at this instant of the run (or at once, if confirmed later).
    pub hangup_at: Option<Duration>,
    /// REFER to this URI this long after the dialog is confirmed; BYE once
    /// the NOTIFY of the transfer's success arrives.
    pub refer: Option<(Duration, &'static str)>,
    /// A re-INVITE at this instant of the run, on the confirmed dialog.
    pub reinvite_at: Option<Duration>,
}

/// A scripted step.
#[derive(Debug)]
pub(super) enum Step {
    Invite,
    Cancel,
    Ring(TxId),
    Answer(TxId, &'static str),
    Reject(TxId, u16),
    Hangup(usize),
    Refer(usize),
    Reinvite(usize),
}

/// An SDP of `owner` at `ip` (its own address: what voxgate must not pass
/// on to the other side) with `direction`.
pub fn sdp(owner: &str, ip: IpAddr, version: u32, direction: &str) -> String {
    format!(
        "v=0\r\n\
         o={owner} 1000 {version} IN IP4 {ip}\r\n\
         s=-\r\n\
         c=IN IP4 {ip}\r\n\
         t=0 0\r\n\
         m=audio 30000 RTP/AVP 0 8 101\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a={direction}\r\n"
    )
}

/// Our answer to `offer` (an offer of ours when it is empty): the
/// direction mirrored, the `o=` version moved on.
pub(super) fn answer_sdp(owner: &str, ip: IpAddr, leg: &mut Leg, offer: &[u8]) -> String {
    let offer = String::from_utf8_lossy(offer);
    let direction = if offer.contains("a=sendonly") {
        "recvonly"
    } else if offer.contains("a=recvonly") {
        "sendonly"
    } else if offer.contains("a=inactive") {
        "inactive"
    } else {
        "sendrecv"
    };
    leg.sdp_version += 1;
    sdp(owner, ip, leg.sdp_version, direction)
}

impl Ua {
    pub(super) fn run(&mut self, ctx: &mut Ctx, step: Step) {
        match step {
            Step::Invite => self.send_invite(ctx),
            Step::Cancel => {
                if !self.log.finals.is_empty() {
                    return;
                }
                if self.provisional {
                    self.send_cancel(ctx);
                } else {
                    self.cancel_wanted = true;
                }
            }
            Step::Ring(tx) => {
                let tag = self.script.answer.first_tag();
                let Some(inc) = self.incoming.get(&tx).filter(|i| i.final_status.is_none()) else {
                    return;
                };
                let r = Dialog::uas(&inc.request, tag, self.local.clone())
                    .ok()
                    .and_then(|d| {
                        d.response(&inc.request, 180, "Ringing", Some(inc.from.addr))
                            .build_message()
                            .ok()
                    });
                self.respond(ctx, tx, r);
            }
            Step::Answer(tx, tag) => self.answer(ctx, tx, tag),
            Step::Reject(tx, status) => {
                let tag = self.script.answer.first_tag();
                let Some(inc) = self
                    .incoming
                    .get_mut(&tx)
                    .filter(|i| i.final_status.is_none())
                else {
                    return;
                };
                inc.final_status = Some(status);
                let r = response_to(
                    &inc.request,
                    status,
                    voxgate_edge::conversation::default_reason(status),
                    Some(tag),
                    Some(inc.from.addr),
                )
                .build_message()
                .ok();
                self.respond(ctx, tx, r);
            }
            Step::Hangup(leg) => self.hang_up(ctx, leg),
            Step::Refer(leg) => {
                let Some((_, target)) = self.script.refer else {
                    return;
                };
                if !self.legs[leg].is_live() {
                    return;
                }
                let request = self.legs[leg]
                    .dialog
                    .request(Method::Refer)
                    .header(HeaderName::ReferTo, &format!("<{target}>"))
                    .build_message();
                if self
                    .send_in_dialog(ctx, leg, request.ok(), Sent::Refer)
                    .is_some()
                {
                    self.log.refers_sent += 1;
                }
            }
            Step::Reinvite(leg) => {
                let l = &mut self.legs[leg];
                if !l.is_live() || l.reinvite.is_some() {
                    return;
                }
                l.sdp_version += 1;
                let body = sdp(self.name, self.addr.ip(), l.sdp_version, "sendrecv");
                let request = l
                    .dialog
                    .request(Method::Invite)
                    .body("application/sdp", body.as_bytes())
                    .build_message();
                if let Some(tx) = self.send_in_dialog(ctx, leg, request.ok(), Sent::Reinvite(leg)) {
                    self.legs[leg].reinvite = Some(tx);
                }
            }
        }
    }

    fn send_invite(&mut self, ctx: &mut Ctx) {
        let Some(call) = self.script.call.clone() else {
            return;
        };
        let from = "<sip:+15551234@carrier.example>".to_string();
        let to = format!("<sip:+15550100@{}>", call.to.ip());
        let (builder, _) = NewRequest {
            method: Method::Invite,
            request_uri: &call.uri,
            from: &from,
            to: &to,
            local: &self.local,
            max_forwards: 70,
        }
        .build();
        let body = sdp(self.name, self.addr.ip(), 1, "sendrecv");
        let Ok(invite) = builder
            .body("application/sdp", body.as_bytes())
            .build_message()
        else {
            self.log.anomalies.push("could not build the INVITE".into());
            return;
        };
        match self
            .layer
            .send_request(ctx.now, invite.clone(), udp(call.to))
        {
            Ok(tx) => {
                self.sent.insert(tx, Sent::Invite);
                self.invite = Some((tx, invite, call.to));
            }
            Err(e) => self.log.anomalies.push(format!("INVITE not sent: {e}")),
        }
        self.pull();
        if let Some(at) = self.script.cancel_at {
            self.schedule(Ctx::at(at).max(ctx.now), Step::Cancel);
        }
    }

    fn send_cancel(&mut self, ctx: &mut Ctx) {
        self.cancel_wanted = false;
        if self.log.cancel_sent {
            return;
        }
        let Some((_, invite, to)) = &self.invite else {
            return;
        };
        let to = *to;
        let cancel = cancel_for(invite)
            .ok()
            .and_then(|b| Message::parse(b, &Limits::default()).ok());
        let Some(cancel) = cancel else {
            self.log.anomalies.push("could not build the CANCEL".into());
            return;
        };
        match self.layer.send_request(ctx.now, cancel, udp(to)) {
            Ok(tx) => {
                self.sent.insert(tx, Sent::Cancel);
                self.log.cancel_sent = true;
            }
            Err(e) => self.log.anomalies.push(format!("CANCEL not sent: {e}")),
        }
        self.pull();
    }

    /// A new INVITE for this UA (a callee): answered as the script says.
    pub(super) fn on_invite(
        &mut self,
        ctx: &mut Ctx,
        tx: TxId,
        request: Message,
        from: voxgate_sip::Peer,
    ) {
        self.incoming.insert(
            tx,
            Incoming {
                request,
                from,
                final_status: None,
            },
        );
        match self.script.answer.clone() {
            Answer::Refuse => self.run(ctx, Step::Reject(tx, 603)),
            Answer::Ring { ring, answers } => {
                self.schedule(ctx.now + ring, Step::Ring(tx));
                for (after, tag) in answers {
                    self.schedule(ctx.now + after, Step::Answer(tx, tag));
                }
            }
            Answer::Reject { after, status } => {
                self.schedule(ctx.now + after, Step::Reject(tx, status));
            }
            Answer::RingForever => self.run(ctx, Step::Ring(tx)),
        }
    }

    /// Our 2xx from `tag` (a second tag: a second fork), repeated until the ACK.
    fn answer(&mut self, ctx: &mut Ctx, tx: TxId, tag: &'static str) {
        let Some(inc) = self.incoming.get(&tx) else {
            return;
        };
        if inc.final_status.is_some_and(|s| s >= 300) {
            return;
        }
        let Ok(dialog) = Dialog::uas(&inc.request, tag, self.local.clone()) else {
            self.log.anomalies.push("INVITE creates no dialog".into());
            return;
        };
        let from = inc.from;
        let request = inc.request.clone();
        let mut leg = Leg::new(dialog, false);
        let body = answer_sdp(self.name, self.addr.ip(), &mut leg, request.body());
        let ok = leg
            .dialog
            .response(&request, 200, "OK", Some(from.addr))
            .body("application/sdp", body.as_bytes())
            .build_message();
        let Ok(ok) = ok else {
            self.log.anomalies.push("could not build our 2xx".into());
            return;
        };
        leg.oks.push(super::PendingOk {
            cseq: request.cseq().map(|c| c.seq).unwrap_or(1),
            bytes: ok.raw().clone(),
            to: from.addr,
            retransmit: Retransmit::start(ctx.now, self.timers.t1, self.timers.t2),
        });
        if let Some(inc) = self.incoming.get_mut(&tx) {
            inc.final_status = Some(200);
        }
        self.legs.push(leg);
        self.log.answered.push(tag);
        self.respond(ctx, tx, Some(ok));
    }

    /// A response to the caller's INVITE (or a repeat of a 2xx after its
    /// transaction ended).
    pub(super) fn on_invite_response(&mut self, ctx: &mut Ctx, response: &Message) {
        let Some(status) = response.status() else {
            return;
        };
        let tag = response
            .to_header()
            .ok()
            .and_then(|t| t.tag().map(str::to_string));
        if status < 200 {
            if status == 180
                && !self.log.provisionals.contains(&180)
                && let Some(after) = self.script.cancel_after_ringing
            {
                self.schedule(ctx.now + after, Step::Cancel);
            }
            self.log.provisionals.push(status);
            self.provisional = true;
            if self.cancel_wanted {
                self.send_cancel(ctx);
            }
            return;
        }
        if status >= 300 {
            if !self.log.finals.iter().any(|(s, _)| *s == status) {
                self.log.finals.push((status, tag));
            }
            return;
        }
        if let Some(leg) = self.leg_of_response(response) {
            self.reack(leg, response);
            return;
        }
        let Some((_, invite, _)) = &self.invite else {
            return;
        };
        let Ok(mut dialog) = Dialog::uac(invite, response, self.local.clone()) else {
            self.log.anomalies.push("a 2xx that makes no dialog".into());
            return;
        };
        let seq = invite.cseq().map(|c| c.seq).unwrap_or(1);
        dialog.refresh_target(response);
        let ack = dialog.ack(seq).build();
        let second = !self.legs.iter().all(|l| !l.uac);
        self.log.finals.push((status, tag));
        let mut leg = Leg::new(dialog, true);
        leg.acks.push((seq, ack.clone()));
        leg.confirmed = Some(ctx.now);
        let to = next_hop(&leg.dialog);
        self.legs.push(leg);
        let index = self.legs.len() - 1;
        if let Some(to) = to {
            self.out.push_back((to, ack));
        }
        if second {
            self.log
                .anomalies
                .push("a second 2xx with another To tag: voxgate forked".into());
            self.hang_up(ctx, index);
        } else if self.log.cancel_sent {
            // §9.1: the 2xx crossed our CANCEL; the call is not wanted.
            self.hang_up(ctx, index);
        } else {
            self.confirmed(ctx, index);
        }
    }

    pub(super) fn on_reinvite_response(&mut self, ctx: &mut Ctx, leg: usize, response: &Message) {
        let Some(status) = response.status() else {
            return;
        };
        if status < 200 {
            return;
        }
        let seq = response.cseq().map(|c| c.seq).unwrap_or(0);
        if (200..300).contains(&status) {
            if self.legs[leg].acks.iter().any(|(s, _)| *s == seq) {
                self.reack(leg, response);
                return;
            }
            let l = &mut self.legs[leg];
            l.dialog.refresh_target(response);
            let ack = l.dialog.ack(seq).build();
            l.acks.push((seq, ack.clone()));
            if let Some(to) = next_hop(&l.dialog) {
                self.out.push_back((to, ack));
            }
        }
        self.legs[leg].reinvite = None;
        self.log.reinvite_statuses.push(status);
        if status == 491 {
            // §14.1: the owner of the Call-ID waits 2.1–4 s, the other 0–2 s.
            let backoff = if self.legs[leg].uac {
                ctx.between(Duration::from_millis(2100), Duration::from_secs(4))
            } else {
                ctx.between(Duration::ZERO, Duration::from_secs(2))
            };
            ctx.note(
                self.name,
                format!("491: re-INVITE again in {} ms", backoff.as_millis()),
            );
            self.schedule(ctx.now + backoff, Step::Reinvite(leg));
        }
    }

    /// A dialog is confirmed: the scripted hang-up, REFER and re-INVITE.
    pub(super) fn confirmed(&mut self, ctx: &mut Ctx, leg: usize) {
        if let Some(after) = self.script.hangup_after {
            self.schedule(ctx.now + after, Step::Hangup(leg));
        }
        if let Some(at) = self.script.hangup_at {
            self.schedule(Ctx::at(at).max(ctx.now), Step::Hangup(leg));
        }
        if let Some((after, _)) = self.script.refer {
            self.schedule(ctx.now + after, Step::Refer(leg));
        }
        if let Some(at) = self.script.reinvite_at {
            self.schedule(Ctx::at(at).max(ctx.now), Step::Reinvite(leg));
        }
    }

    /// BYE on `leg`, once.
    pub(super) fn hang_up(&mut self, ctx: &mut Ctx, leg: usize) {
        let l = &mut self.legs[leg];
        if !l.is_live() || l.bye_sent.is_some() {
            return;
        }
        l.bye_sent = Some(ctx.now);
        let request = l.dialog.request(Method::Bye).build_message();
        if self
            .send_in_dialog(ctx, leg, request.ok(), Sent::Bye(leg))
            .is_none()
        {
            self.end(ctx, leg, By::Us);
        }
    }

    fn send_in_dialog(
        &mut self,
        ctx: &mut Ctx,
        leg: usize,
        request: Option<Message>,
        sent: Sent,
    ) -> Option<TxId> {
        let to = next_hop(&self.legs[leg].dialog);
        let (Some(request), Some(to)) = (request, to) else {
            self.log.anomalies.push(format!(
                "could not send {sent:?}: no request or no next hop"
            ));
            return None;
        };
        let result = self.layer.send_request(ctx.now, request, udp(to));
        self.pull();
        match result {
            Ok(tx) => {
                self.sent.insert(tx, sent);
                Some(tx)
            }
            Err(e) => {
                self.log.anomalies.push(format!("{sent:?} not sent: {e}"));
                None
            }
        }
    }
}
