//! One two-way call: the RFC 3725 flow I, written top to bottom in
//! [`Call::flow`]. Everything else in this file serves it: building requests
//! for a leg, waiting for the next thing that happens, and releasing legs.
//!
//! ```text
//!   expert            Anxin             seeker
//!     |<-- INVITE (no SDP)|                 |   From: platform number
//!     |--- 180/200 offer->|                 |
//!     |                   |-- INVITE offer->|   From: platform number
//!     |                   |<-- 200 answer --|
//!     |                   |------ ACK ----->|
//!     |<--- ACK answer ---|                 |
//!     |<=========== media, phone to phone ==========>|
//!     |--- BYE ---------->|------ BYE ----->|   (either side, or hard stop)
//! ```
//!
//! Ring timeouts CANCEL a ringing leg; if the seeker fails after the expert
//! answered, the expert's pending offer is answered with all streams rejected
//! and the leg is released with BYE. Re-INVITE and UPDATE are refused (488):
//! the session stays as negotiated.
use super::digest::Challenge;
use super::message::{name_addr_uri, SipMessage, SipUri};
use super::sdp;
use super::transaction::{Party, Timers, Transactions, TxResponse, TxTimeout};
use super::transport::{Endpoint, Inbound, Registration};
use super::{trunk_host, SipConfig};
use crate::provider::{CallControl, CallProgress, CallReport, CallRequest, HangupReason};
use anxin_domain::call::CallOutcome;
use anxin_domain::phone::PhoneNumber;
use chrono::{DateTime, Utc};
use rand::Rng;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

const USER_AGENT: &str = "Anxin";
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS";

/// Runs a call to its end and reports `Ended`.
pub(super) async fn run(
    endpoint: Arc<Endpoint>,
    config: Arc<SipConfig>,
    request: CallRequest,
    control: CallControl,
) {
    let task = request.task;
    let attempt = request.attempt;
    match Call::prepare(endpoint, config, request, control).await {
        Ok(mut call) => {
            let report = call.run().await;
            call.control.report(CallProgress::Ended(report));
        }
        Err((control, reason)) => {
            warn!(%task, attempt, %reason, "call could not start");
            control.report(CallProgress::Ended(CallReport::failed(reason, false)));
        }
    }
}

/// What happened next, as far as the call flow cares.
#[derive(Debug)]
enum Happening {
    Response(TxResponse),
    /// The party on this leg hung up (their BYE was answered 200).
    Bye(Party),
    Timeout(TxTimeout),
    /// The deadline the caller of `next` gave passed.
    Deadline,
    /// The slot's end plus grace: release everything.
    HardStop,
    Hangup(HangupReason),
}

/// Why a call is being torn down before it was bridged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Teardown {
    HardStop,
    Hangup(HangupReason),
    /// The other party hung up while this leg was still being set up.
    OtherLegHungUp,
}

/// How dialing one leg ended.
#[derive(Debug)]
enum Dial {
    Answered {
        sdp: Option<String>,
    },
    /// A final non-2xx response.
    Rejected {
        status: u16,
    },
    /// Rang past the ring timeout and was cancelled.
    NoAnswer,
    /// Nothing at all came back (Timer B).
    NoResponse,
    Stopped(Teardown),
    Failed(String),
}

/// Why an unanswered leg is being cancelled.
#[derive(Debug, Clone, Copy)]
enum Cancelling {
    RingTimeout,
    Stop(Teardown),
}

struct Leg {
    party: Party,
    number: PhoneNumber,
    call_id: String,
    /// Our From header, tag included; the same on every request of the leg.
    from: String,
    /// The Request-URI and To URI of the initial INVITE.
    target_uri: String,
    cseq: u32,
    invite_branch: Option<String>,
    invite_cseq: u32,
    /// Credentials that answered the last challenge, repeated on the ACK.
    credentials: Option<(&'static str, String)>,
    auth_tried: bool,
    provisional: bool,
    cancel_sent: bool,
    final_status: Option<u16>,
    /// The dialog, once a 2xx established it.
    dialog: Option<Dialog>,
    /// The ACK of the 2xx, resent whenever the 2xx is.
    ack: Option<Vec<u8>>,
    bye_sent: bool,
    bye_auth_tried: bool,
    /// The party hung up, or we did.
    gone: bool,
}

struct Dialog {
    /// Their To header (with their tag), our To on in-dialog requests.
    remote: String,
    remote_target: String,
    route_set: Vec<String>,
    next_hop: SocketAddr,
}

struct Call {
    ep: Arc<Endpoint>,
    config: Arc<SipConfig>,
    request: CallRequest,
    control: CallControl,
    inbound: mpsc::UnboundedReceiver<Inbound>,
    _registration: Registration,
    txs: Transactions,
    queued: VecDeque<Happening>,
    hard_stop: Instant,
    hard_stop_passed: bool,
    /// Where the first request of each leg goes: the proxy, or the trunk.
    first_hop: SocketAddr,
    /// Our address as the trunk sees it, for Via and Contact.
    local: SocketAddr,
    domain: String,
    expert: Leg,
    seeker: Leg,
    expert_answered_at: Option<DateTime<Utc>>,
    bridged_at: Option<DateTime<Utc>>,
}

impl Call {
    async fn prepare(
        ep: Arc<Endpoint>,
        config: Arc<SipConfig>,
        request: CallRequest,
        control: CallControl,
    ) -> Result<Call, (CallControl, String)> {
        let (first_hop, local, domain) = match Self::addresses(&ep, &config).await {
            Ok(addresses) => addresses,
            Err(reason) => return Err((control, reason)),
        };
        let (tx, inbound) = mpsc::unbounded_channel();
        let expert = Leg::new(Party::Expert, request.expert.clone(), &config, &domain);
        let seeker = Leg::new(Party::Seeker, request.seeker.clone(), &config, &domain);
        let registration = ep.register(&[&expert.call_id, &seeker.call_id], tx);
        let until_stop = (request.hard_stop - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        Ok(Call {
            txs: Transactions::new(Timers {
                t1: config.timer_t1,
                ..Timers::default()
            }),
            ep,
            config,
            request,
            control,
            inbound,
            _registration: registration,
            queued: VecDeque::new(),
            hard_stop: Instant::now() + until_stop,
            hard_stop_passed: false,
            first_hop,
            local,
            domain,
            expert,
            seeker,
            expert_answered_at: None,
            bridged_at: None,
        })
    }

    /// Where the first requests go, our address as the trunk sees it, and the
    /// domain of the URIs we build.
    async fn addresses(
        ep: &Endpoint,
        config: &SipConfig,
    ) -> Result<(SocketAddr, SocketAddr, String), String> {
        let first_hop_name = config.outbound_proxy.as_deref().unwrap_or(&config.trunk);
        let first_hop = resolve(first_hop_name)
            .await
            .ok_or_else(|| format!("cannot resolve SIP next hop {first_hop_name}"))?;
        let bound = ep.local_addr().map_err(|e| format!("SIP socket: {e}"))?;
        let local = match config.public_addr {
            Some(addr) => addr,
            None if bound.ip().is_unspecified() => {
                SocketAddr::new(route_ip(first_hop).unwrap_or(bound.ip()), bound.port())
            }
            None => bound,
        };
        let domain = trunk_host(&config.trunk)
            .ok_or("SIP trunk must be host:port")?
            .to_string();
        Ok((first_hop, local, domain))
    }

    async fn run(&mut self) -> CallReport {
        let (outcome, reason) = self.flow().await;
        let ended_at = Utc::now();
        // Whatever ended the call, no leg stays up: BYE what is established,
        // and wait for those BYEs to be answered (or to time out).
        self.release(Party::Expert);
        self.release(Party::Seeker);
        self.wait_for_byes().await;
        let talk_seconds = self.bridged_at.map_or(0, |b| {
            u32::try_from((ended_at - b).num_milliseconds().max(0) / 1000).unwrap_or(u32::MAX)
        });
        info!(
            task = %self.request.task,
            attempt = self.request.attempt,
            outcome = outcome.as_str(),
            reason = reason.as_deref().unwrap_or(""),
            talk_seconds,
            "call ended"
        );
        CallReport {
            outcome,
            reason,
            expert_sip_status: self.expert.final_status,
            seeker_sip_status: self.seeker.final_status,
            expert_answered_at: self.expert_answered_at,
            bridged_at: self.bridged_at,
            ended_at,
            talk_seconds,
            simulated: false,
        }
    }

    /// The call flow. Returns the outcome and the reason to record.
    async fn flow(&mut self) -> (CallOutcome, Option<String>) {
        let task = self.request.task;
        let attempt = self.request.attempt;

        // 1. The expert, first and without SDP: their phone makes the offer.
        info!(%task, attempt, expert = %self.expert.number, "dialing expert");
        self.control
            .report(CallProgress::DialingExpert { at: Utc::now() });
        let expert_offer = match self.dial(Party::Expert, None).await {
            Dial::Answered { sdp } => sdp,
            other => return self.dial_failure(Party::Expert, other),
        };
        self.expert_answered_at = Some(Utc::now());
        self.control.report(CallProgress::ExpertAnswered {
            at: Utc::now(),
            sip_status: self.expert.final_status,
        });
        let Some(expert_offer) = expert_offer else {
            self.send_ack(Party::Expert, None);
            return failed("expert's phone answered without an SDP offer");
        };
        // The seeker must not learn the expert's number either.
        let offer_for_seeker = match sdp::scrub(&expert_offer, &self.expert.number) {
            Ok(offer) => offer,
            Err(e) => {
                self.reject_offer(&expert_offer);
                return failed(format!("expert's SDP offer unusable: {e}"));
            }
        };

        // 2. The seeker, with the expert's offer, while the expert waits.
        info!(%task, attempt, seeker = %self.seeker.number, "expert answered; dialing seeker");
        self.control
            .report(CallProgress::DialingSeeker { at: Utc::now() });
        let seeker_answer = match self.dial(Party::Seeker, Some(&offer_for_seeker)).await {
            Dial::Answered { sdp } => sdp,
            other => {
                // The expert's offer is still pending: answer it with every
                // stream rejected so the ACK is valid, then BYE (in `run`).
                self.reject_offer(&expert_offer);
                return self.dial_failure(Party::Seeker, other);
            }
        };
        self.send_ack(Party::Seeker, None);
        let answer_for_expert = match seeker_answer
            .as_deref()
            .map(|a| sdp::scrub(a, &self.seeker.number))
        {
            Some(Ok(answer)) => answer,
            Some(Err(e)) => {
                self.reject_offer(&expert_offer);
                return failed(format!("seeker's SDP answer unusable: {e}"));
            }
            None => {
                self.reject_offer(&expert_offer);
                return failed("seeker's phone answered without an SDP answer");
            }
        };

        // 3. Bridged: the expert gets the seeker's answer, media flows.
        self.send_ack(Party::Expert, Some(&answer_for_expert));
        self.bridged_at = Some(Utc::now());
        info!(%task, attempt, "bridged");
        self.control.report(CallProgress::Bridged {
            at: Utc::now(),
            seeker_sip_status: self.seeker.final_status,
        });

        // 4. Talk until someone hangs up, or the slot (plus grace) is over.
        loop {
            match self.next(None).await {
                Happening::Bye(party) => {
                    return (
                        CallOutcome::Completed,
                        Some(format!("{} hung up", party.as_str())),
                    )
                }
                Happening::HardStop => {
                    return (
                        CallOutcome::Completed,
                        Some("hard stop at the slot's end".into()),
                    )
                }
                Happening::Hangup(reason) => {
                    return (reason.outcome(), Some(reason.describe().into()))
                }
                Happening::Response(_) | Happening::Timeout(_) | Happening::Deadline => {}
            }
        }
    }

    /// Sends the INVITE of a leg and sees it through: provisional responses,
    /// a digest challenge, the ring timeout (CANCEL), and whatever else
    /// happens meanwhile (the other leg hanging up, the hard stop, the
    /// worker's hang-up).
    async fn dial(&mut self, party: Party, offer: Option<&str>) -> Dial {
        if let Err(e) = self.send_invite(party, offer, None) {
            return Dial::Failed(e);
        }
        let ring_for = match (party, self.request.first_ring) {
            (Party::Expert, Some(first)) => first.min(self.config.ring_timeout),
            _ => self.config.ring_timeout,
        };
        let ring_deadline = Instant::now() + ring_for;
        let mut cancelling: Option<Cancelling> = None;
        // After a CANCEL, a phone that never sends its final response is
        // given up on after 64·T1 (RFC 3261 §9.1).
        let mut give_up_at: Option<Instant> = None;
        loop {
            let deadline = if cancelling.is_some() {
                give_up_at
            } else {
                Some(ring_deadline)
            };
            let stop = match self.next(deadline).await {
                Happening::Response(r) if r.party == party && r.method == "INVITE" => {
                    if Some(&r.branch) != self.leg(party).invite_branch.as_ref() {
                        continue; // a late answer to a challenged INVITE
                    }
                    let status = r.msg.status().unwrap_or(500);
                    match status {
                        100..=199 => {
                            self.leg_mut(party).provisional = true;
                            if cancelling.is_some() {
                                self.send_cancel(party);
                            }
                            continue;
                        }
                        200..=299 => {
                            self.leg_mut(party).final_status = Some(status);
                            if let Err(e) = self.accept_dialog(party, &r.msg).await {
                                return Dial::Failed(e);
                            }
                            let sdp = r.msg.sdp().map(str::to_owned);
                            return match cancelling {
                                // Answered just as we gave up ringing: take it.
                                None | Some(Cancelling::RingTimeout) => Dial::Answered { sdp },
                                Some(Cancelling::Stop(stop)) => {
                                    match (offer, sdp) {
                                        (None, Some(their_offer)) => {
                                            self.reject_offer(&their_offer)
                                        }
                                        _ => self.send_ack(party, None),
                                    }
                                    Dial::Stopped(stop)
                                }
                            };
                        }
                        401 | 407 if cancelling.is_none() && !self.leg(party).auth_tried => {
                            match self.answer_challenge(party, &r.msg, offer) {
                                Ok(()) => continue,
                                Err(e) => {
                                    self.leg_mut(party).final_status = Some(status);
                                    return Dial::Failed(e);
                                }
                            }
                        }
                        _ => {
                            self.leg_mut(party).final_status = Some(status);
                            return match cancelling {
                                None => Dial::Rejected { status },
                                Some(Cancelling::RingTimeout) => Dial::NoAnswer,
                                Some(Cancelling::Stop(stop)) => Dial::Stopped(stop),
                            };
                        }
                    }
                }
                Happening::Timeout(t) if t.party == party && t.method == "INVITE" => {
                    return match cancelling {
                        None => Dial::NoResponse,
                        Some(Cancelling::RingTimeout) => Dial::NoAnswer,
                        Some(Cancelling::Stop(stop)) => Dial::Stopped(stop),
                    };
                }
                Happening::Response(_) | Happening::Timeout(_) => continue,
                Happening::Deadline => match cancelling {
                    None => {
                        info!(leg = party.as_str(), "ring timeout; cancelling");
                        cancelling = Some(Cancelling::RingTimeout);
                        give_up_at = Some(Instant::now() + self.config.timer_t1 * 64);
                        if self.leg(party).provisional {
                            self.send_cancel(party);
                        }
                        continue;
                    }
                    // The CANCEL went unanswered for 64·T1.
                    Some(Cancelling::RingTimeout) => return Dial::NoAnswer,
                    Some(Cancelling::Stop(stop)) => return Dial::Stopped(stop),
                },
                Happening::Bye(r) if r != party => Teardown::OtherLegHungUp,
                // A BYE on a leg still being set up: answered; its INVITE
                // still ends with a final response.
                Happening::Bye(_) => continue,
                Happening::HardStop => Teardown::HardStop,
                Happening::Hangup(reason) => Teardown::Hangup(reason),
            };
            // Something outside this leg ends the call: cancel the leg.
            if !matches!(cancelling, Some(Cancelling::Stop(_))) {
                cancelling = Some(Cancelling::Stop(stop));
                give_up_at = Some(Instant::now() + self.config.timer_t1 * 64);
                if self.leg(party).provisional {
                    self.send_cancel(party);
                }
            }
        }
    }

    /// The outcome for a leg that did not answer.
    fn dial_failure(&self, party: Party, dial: Dial) -> (CallOutcome, Option<String>) {
        let (busy, no_answer) = match party {
            Party::Expert => (CallOutcome::ExpertBusy, CallOutcome::ExpertNoAnswer),
            Party::Seeker => (CallOutcome::SeekerBusy, CallOutcome::SeekerNoAnswer),
        };
        let leg = party.as_str();
        match dial {
            Dial::Answered { .. } => (CallOutcome::Failed, Some("unexpected answer".into())),
            Dial::Rejected { status } => match status {
                486 | 600 | 603 => (busy, Some(format!("{leg}: SIP {status}"))),
                408 | 480 | 487 => (no_answer, Some(format!("{leg}: SIP {status}"))),
                401 | 407 => (
                    CallOutcome::Failed,
                    Some(format!(
                        "{leg}: trunk refused our credentials (SIP {status})"
                    )),
                ),
                _ => (CallOutcome::Failed, Some(format!("{leg}: SIP {status}"))),
            },
            Dial::NoAnswer => (
                no_answer,
                Some(format!("{leg}: no answer before the ring timeout")),
            ),
            Dial::NoResponse => (
                CallOutcome::Failed,
                Some(format!("{leg}: no response from the trunk")),
            ),
            Dial::Stopped(Teardown::HardStop) => (
                CallOutcome::Failed,
                Some("slot ended before the call was bridged".into()),
            ),
            Dial::Stopped(Teardown::Hangup(reason)) => {
                (reason.outcome(), Some(reason.describe().into()))
            }
            Dial::Stopped(Teardown::OtherLegHungUp) => (
                CallOutcome::Failed,
                Some(format!(
                    "{} hung up before the call was bridged",
                    party.other().as_str()
                )),
            ),
            Dial::Failed(reason) => (CallOutcome::Failed, Some(format!("{leg}: {reason}"))),
        }
    }

    /// Waits for the next thing that matters, answering in-dialog requests
    /// and retransmitting on the way. `deadline` is the caller's own timer.
    async fn next(&mut self, deadline: Option<Instant>) -> Happening {
        loop {
            if let Some(h) = self.queued.pop_front() {
                return h;
            }
            let hard_stop = (!self.hard_stop_passed).then_some(self.hard_stop);
            let wake = [self.txs.next_deadline(), deadline, hard_stop]
                .into_iter()
                .flatten()
                .min();
            tokio::select! {
                reason = self.control.hangup_requested() => return Happening::Hangup(reason),
                inbound = self.inbound.recv() => match inbound {
                    Some(inbound) => {
                        if let Some(h) = self.on_inbound(inbound) {
                            return h;
                        }
                    }
                    // Only if the endpoint dropped our route: nothing more
                    // can arrive, so treat it like losing the worker.
                    None => return Happening::Hangup(HangupReason::HandleDropped),
                },
                _ = sleep_until(wake) => {
                    let now = Instant::now();
                    for timeout in self.txs.on_timer(&self.ep, now) {
                        self.queued.push_back(Happening::Timeout(timeout));
                    }
                    if !self.hard_stop_passed && self.hard_stop <= now {
                        self.hard_stop_passed = true;
                        self.queued.push_back(Happening::HardStop);
                    }
                    if deadline.is_some_and(|d| d <= now) {
                        return Happening::Deadline;
                    }
                }
            }
        }
    }

    fn on_inbound(&mut self, Inbound { msg, from }: Inbound) -> Option<Happening> {
        if msg.status().is_some() {
            let r = self.txs.on_response(&self.ep, msg)?;
            let is_2xx = r.msg.status().is_some_and(|s| (200..300).contains(&s));
            if r.method == "INVITE" && is_2xx {
                if let Some(ack) = &self.leg(r.party).ack {
                    // Our ACK was lost: the phone retransmits its 2xx.
                    let dest = self.leg(r.party).dialog.as_ref().map(|d| d.next_hop);
                    if let Some(dest) = dest {
                        self.ep.send(ack, dest);
                    }
                    return None;
                }
            }
            return Some(Happening::Response(r));
        }
        let party = match msg.call_id() {
            Some(id) if id == self.expert.call_id => Party::Expert,
            Some(id) if id == self.seeker.call_id => Party::Seeker,
            _ => return None,
        };
        let method = msg.method().unwrap_or_default().to_string();
        let reply = |status: u16, reason: &str| {
            let res = SipMessage::response_to(&msg, status, reason, None)
                .with_header("User-Agent", USER_AGENT);
            self.ep.send(&res.to_bytes(), from);
        };
        match method.as_str() {
            "ACK" => None,
            "BYE" => {
                reply(200, "OK");
                let leg = self.leg_mut(party);
                if leg.gone {
                    return None; // a retransmitted BYE
                }
                leg.gone = true;
                info!(leg = party.as_str(), "party hung up");
                Some(Happening::Bye(party))
            }
            // The session stays as negotiated: a changed offer from one phone
            // would need a matching change on the other leg (pass-through is
            // not implemented), and the dialog survives a 488 (§14.2).
            "INVITE" | "UPDATE" => {
                let res = SipMessage::response_to(&msg, 488, "Not Acceptable Here", None)
                    .with_header("Warning", "399 anxin \"session changes are not supported\"")
                    .with_header("User-Agent", USER_AGENT);
                self.ep.send(&res.to_bytes(), from);
                None
            }
            "OPTIONS" | "INFO" | "NOTIFY" => {
                let res = SipMessage::response_to(&msg, 200, "OK", None)
                    .with_header("Allow", ALLOW)
                    .with_header("User-Agent", USER_AGENT);
                self.ep.send(&res.to_bytes(), from);
                None
            }
            "CANCEL" => {
                reply(481, "Call/Transaction Does Not Exist");
                None
            }
            _ => {
                let res = SipMessage::response_to(&msg, 501, "Not Implemented", None)
                    .with_header("Allow", ALLOW);
                self.ep.send(&res.to_bytes(), from);
                None
            }
        }
    }

    // ---- requests ------------------------------------------------------

    fn leg(&self, party: Party) -> &Leg {
        match party {
            Party::Expert => &self.expert,
            Party::Seeker => &self.seeker,
        }
    }

    fn leg_mut(&mut self, party: Party) -> &mut Leg {
        match party {
            Party::Expert => &mut self.expert,
            Party::Seeker => &mut self.seeker,
        }
    }

    fn via(&self, branch: &str) -> String {
        format!("SIP/2.0/UDP {};branch={branch};rport", self.local)
    }

    fn contact(&self) -> String {
        format!("<sip:anxin@{}>", self.local)
    }

    /// The caller ID as a URI, the same on both legs.
    fn platform_uri(&self) -> String {
        format!("sip:{}@{}", self.config.caller_id, self.domain)
    }

    fn send_invite(
        &mut self,
        party: Party,
        offer: Option<&str>,
        credentials: Option<(&'static str, String)>,
    ) -> Result<(), String> {
        let branch = new_branch();
        let via = self.via(&branch);
        let contact = self.contact();
        let pai = self
            .config
            .assert_identity
            .then(|| format!("<{}>", self.platform_uri()));
        let proxy_route = self
            .config
            .outbound_proxy
            .as_ref()
            .map(|p| format!("<sip:{p};lr>"));
        let first_hop = self.first_hop;
        let leg = self.leg_mut(party);
        leg.cseq += 1;
        leg.invite_cseq = leg.cseq;
        leg.invite_branch = Some(branch);
        if credentials.is_some() {
            leg.credentials = credentials;
        }
        let mut invite = SipMessage::request("INVITE", &leg.target_uri)
            .with_header("Via", via)
            .with_header("Max-Forwards", "70");
        if let Some(route) = proxy_route {
            invite = invite.with_header("Route", route);
        }
        invite = invite
            .with_header("From", leg.from.clone())
            .with_header("To", format!("<{}>", leg.target_uri))
            .with_header("Call-ID", leg.call_id.clone())
            .with_header("CSeq", format!("{} INVITE", leg.cseq))
            .with_header("Contact", contact);
        if let Some(pai) = pai {
            invite = invite.with_header("P-Asserted-Identity", pai);
        }
        if let Some((name, value)) = &leg.credentials {
            invite = invite.with_header(name, value.clone());
        }
        invite = invite
            .with_header("Allow", ALLOW)
            .with_header("User-Agent", USER_AGENT);
        if let Some(offer) = offer {
            invite = invite.with_body("application/sdp", offer.as_bytes().to_vec());
        }
        self.txs.start(&self.ep, party, invite, first_hop);
        Ok(())
    }

    /// Answers a 401/407 by sending the INVITE again with credentials. Tried
    /// once per leg: a second challenge means the credentials are wrong.
    fn answer_challenge(
        &mut self,
        party: Party,
        response: &SipMessage,
        offer: Option<&str>,
    ) -> Result<(), String> {
        self.leg_mut(party).auth_tried = true;
        let credentials = self.credentials_for(party, response, "INVITE", None)?;
        self.send_invite(party, offer, Some(credentials))
    }

    /// The `Authorization` / `Proxy-Authorization` header answering a
    /// challenge for `method` on the leg's Request-URI (or `uri`).
    fn credentials_for(
        &self,
        party: Party,
        response: &SipMessage,
        method: &str,
        uri: Option<&str>,
    ) -> Result<(&'static str, String), String> {
        let (Some(user), Some(pass)) = (&self.config.username, &self.config.password) else {
            return Err("trunk asks for credentials and none are configured".into());
        };
        let (challenge_header, answer_header) = if response.status() == Some(407) {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        let challenge = response
            .header(challenge_header)
            .ok_or("challenge without an authenticate header")?;
        let challenge = Challenge::parse(challenge).map_err(|e| e.to_string())?;
        let uri = uri.unwrap_or(&self.leg(party).target_uri);
        let cnonce = hex::encode(rand::thread_rng().gen::<[u8; 8]>());
        let value = challenge
            .answer(user, pass, method, uri, &cnonce)
            .map_err(|e| e.to_string())?;
        Ok((answer_header, value))
    }

    /// CANCEL of a ringing leg (§9.1): same branch, Request-URI, From, To,
    /// Call-ID and Route as the INVITE, CSeq method CANCEL; sent only once a
    /// provisional response came.
    fn send_cancel(&mut self, party: Party) {
        let leg = self.leg(party);
        if leg.cancel_sent || leg.final_status.is_some() {
            return;
        }
        let Some(branch) = leg.invite_branch.clone() else {
            return;
        };
        let Some(invite) = self.txs.request(&branch, "INVITE") else {
            return;
        };
        let dest = self.txs.dest(&branch, "INVITE").unwrap_or(self.first_hop);
        let mut cancel = SipMessage::request("CANCEL", invite.request_uri().unwrap_or_default());
        if let Some(via) = invite.header("Via") {
            cancel = cancel.with_header("Via", via);
        }
        cancel = cancel.with_header("Max-Forwards", "70");
        for route in invite.header_values("Route") {
            cancel = cancel.with_header("Route", route);
        }
        for h in ["From", "To", "Call-ID"] {
            if let Some(v) = invite.header(h) {
                cancel = cancel.with_header(h, v);
            }
        }
        cancel = cancel
            .with_header("CSeq", format!("{} CANCEL", leg.invite_cseq))
            .with_header("User-Agent", USER_AGENT);
        self.leg_mut(party).cancel_sent = true;
        self.txs.start(&self.ep, party, cancel, dest);
    }

    /// Records the dialog a 2xx established (§12.1.2): their tag, their
    /// Contact as the target of later requests, the route set.
    async fn accept_dialog(&mut self, party: Party, ok: &SipMessage) -> Result<(), String> {
        let remote = ok.header("To").ok_or("2xx without To")?.to_string();
        let remote_target = ok.contact_uri().ok_or("2xx without Contact")?.to_string();
        // A UAC's route set is the Record-Route in reverse order.
        let route_set: Vec<String> = ok
            .header_values("Record-Route")
            .into_iter()
            .rev()
            .map(str::to_owned)
            .collect();
        let hop = match (&self.config.outbound_proxy, route_set.first()) {
            (Some(proxy), _) => proxy.clone(),
            (None, Some(route)) => uri_host_port(name_addr_uri(route).unwrap_or(route))?,
            (None, None) => uri_host_port(&remote_target)?,
        };
        if route_set
            .first()
            .and_then(|r| name_addr_uri(r))
            .and_then(SipUri::parse)
            .is_some_and(|u| !u.lr)
        {
            warn!("strict routing is not supported; treating the route set as loose");
        }
        let next_hop = resolve(&hop)
            .await
            .ok_or_else(|| format!("cannot resolve the dialog's next hop {hop}"))?;
        self.leg_mut(party).dialog = Some(Dialog {
            remote,
            remote_target,
            route_set,
            next_hop,
        });
        Ok(())
    }

    /// A request inside the leg's dialog (ACK of the 2xx, BYE).
    fn in_dialog(&self, party: Party, method: &str, cseq: u32) -> Option<(SipMessage, SocketAddr)> {
        let leg = self.leg(party);
        let dialog = leg.dialog.as_ref()?;
        let mut req = SipMessage::request(method, &dialog.remote_target)
            .with_header("Via", self.via(&new_branch()))
            .with_header("Max-Forwards", "70");
        for route in &dialog.route_set {
            req = req.with_header("Route", route.clone());
        }
        req = req
            .with_header("From", leg.from.clone())
            .with_header("To", dialog.remote.clone())
            .with_header("Call-ID", leg.call_id.clone())
            .with_header("CSeq", format!("{cseq} {method}"))
            .with_header("User-Agent", USER_AGENT);
        Some((req, dialog.next_hop))
    }

    /// ACKs the leg's 2xx (§13.2.2.4), with an SDP answer when the 2xx
    /// carried the offer. Kept to resend if the 2xx is retransmitted.
    fn send_ack(&mut self, party: Party, answer: Option<&str>) {
        let cseq = self.leg(party).invite_cseq;
        let Some((mut ack, dest)) = self.in_dialog(party, "ACK", cseq) else {
            return;
        };
        ack = ack.with_header("Contact", self.contact());
        // The ACK of a 2xx repeats the INVITE's credentials (§22.1).
        if let Some((name, value)) = &self.leg(party).credentials {
            ack = ack.with_header(name, value.clone());
        }
        if let Some(answer) = answer {
            ack = ack.with_body("application/sdp", answer.as_bytes().to_vec());
        }
        let bytes = ack.to_bytes();
        self.ep.send(&bytes, dest);
        self.leg_mut(party).ack = Some(bytes);
    }

    /// The expert answered with an offer we will not use: ACK it with every
    /// stream rejected. `run` then releases the leg with BYE.
    fn reject_offer(&mut self, offer: &str) {
        if self.expert.ack.is_none() && !self.expert.gone {
            let answer = sdp::reject_all(offer, &self.local.ip().to_string());
            self.send_ack(Party::Expert, Some(&answer));
        }
    }

    /// BYE to an established leg that is still up.
    fn release(&mut self, party: Party) {
        let leg = self.leg(party);
        if leg.dialog.is_none() || leg.gone || leg.bye_sent {
            return;
        }
        if leg.ack.is_none() {
            // A 2xx we never ACKed (e.g. torn down mid-flow): ACK first, a
            // BYE before the ACK would confuse the phone.
            self.send_ack(party, None);
        }
        self.send_bye(party, None);
    }

    fn send_bye(&mut self, party: Party, credentials: Option<(&'static str, String)>) {
        let cseq = {
            let leg = self.leg_mut(party);
            leg.cseq += 1;
            leg.bye_sent = true;
            leg.gone = true;
            leg.cseq
        };
        let Some((mut bye, dest)) = self.in_dialog(party, "BYE", cseq) else {
            return;
        };
        if let Some((name, value)) = credentials {
            bye = bye.with_header(name, value);
        }
        info!(leg = party.as_str(), "sending BYE");
        self.txs.start(&self.ep, party, bye, dest);
    }

    /// Lets the BYEs we sent finish (answered, challenged once, or timed out
    /// by Timer F), still answering whatever the phones send meanwhile.
    async fn wait_for_byes(&mut self) {
        while self.txs.pending("BYE") {
            match self.next(None).await {
                Happening::Response(r) if r.method == "BYE" => {
                    let status = r.msg.status().unwrap_or(0);
                    let leg = self.leg(r.party);
                    if matches!(status, 401 | 407) && !leg.bye_auth_tried {
                        let uri = leg.dialog.as_ref().map(|d| d.remote_target.clone());
                        self.leg_mut(r.party).bye_auth_tried = true;
                        match self.credentials_for(r.party, &r.msg, "BYE", uri.as_deref()) {
                            Ok(creds) => self.send_bye(r.party, Some(creds)),
                            Err(e) => warn!(leg = r.party.as_str(), %e, "BYE challenged"),
                        }
                    }
                }
                Happening::Timeout(t) if t.method == "BYE" => {
                    warn!(leg = t.party.as_str(), "BYE unanswered (Timer F)");
                }
                _ => {}
            }
        }
    }
}

impl Leg {
    fn new(party: Party, number: PhoneNumber, config: &SipConfig, domain: &str) -> Self {
        let tag = random_hex(8);
        Self {
            party,
            // Random Call-IDs: nothing in one leg's signalling relates to the
            // other leg or to a number.
            call_id: random_hex(16),
            from: format!("<sip:{}@{domain}>;tag={tag}", config.caller_id),
            target_uri: format!("sip:{}@{domain};user=phone", number.expose_e164()),
            number,
            cseq: 0,
            invite_branch: None,
            invite_cseq: 0,
            credentials: None,
            auth_tried: false,
            provisional: false,
            cancel_sent: false,
            final_status: None,
            dialog: None,
            ack: None,
            bye_sent: false,
            bye_auth_tried: false,
            gone: false,
        }
    }
}

impl std::fmt::Debug for Leg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leg")
            .field("party", &self.party)
            .field("number", &self.number)
            .field("call_id", &self.call_id)
            .finish_non_exhaustive()
    }
}

fn failed(reason: impl Into<String>) -> (CallOutcome, Option<String>) {
    (CallOutcome::Failed, Some(reason.into()))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill(buf.as_mut_slice());
    hex::encode(buf)
}

/// A branch with the RFC 3261 magic cookie.
fn new_branch() -> String {
    format!("z9hG4bK{}", random_hex(10))
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn uri_host_port(uri: &str) -> Result<String, String> {
    SipUri::parse(uri)
        .map(|u| u.host_port())
        .ok_or_else(|| "unusable SIP URI in the dialog".to_string())
}

/// `host:port` to an address: literal IPs directly, names through DNS (A/AAAA
/// only; no NAPTR/SRV).
async fn resolve(host_port: &str) -> Option<SocketAddr> {
    if let Ok(addr) = host_port.parse::<SocketAddr>() {
        return Some(addr);
    }
    tokio::net::lookup_host(host_port).await.ok()?.next()
}

/// The local IP the kernel would use to reach `dest` (a connected UDP socket
/// sends nothing).
fn route_ip(dest: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = if dest.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let probe = std::net::UdpSocket::bind(any).ok()?;
    probe.connect(dest).ok()?;
    Some(probe.local_addr().ok()?.ip())
}
