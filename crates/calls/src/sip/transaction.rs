//! Client transactions over UDP (RFC 3261 §17.1): the retransmission and
//! timeout timers, matching responses to requests, and the ACK of a non-2xx
//! final response, which belongs to the INVITE transaction. The ACK of a 2xx
//! is the call's business (it carries the seeker's SDP answer), so 2xx
//! responses are passed up every time they arrive.
//!
//! Timers: A (INVITE retransmit, doubling from T1), B (INVITE timeout 64·T1
//! while no response), E (non-INVITE retransmit, doubling up to T2, T2 once
//! a provisional came) and F (non-INVITE timeout 64·T1). D and K (absorbing
//! retransmitted finals) are covered by keeping a completed transaction until
//! the call ends, which is never long after.
use super::message::SipMessage;
use super::transport::Endpoint;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// Which leg of the call a transaction belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    Expert,
    Seeker,
}

impl Party {
    pub fn other(self) -> Self {
        match self {
            Self::Expert => Self::Seeker,
            Self::Seeker => Self::Expert,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expert => "expert",
            Self::Seeker => "seeker",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Sent, nothing heard: retransmitting.
    Trying,
    /// A provisional came: INVITE stops retransmitting; non-INVITE slows to T2.
    Proceeding,
    /// A final response came.
    Completed,
}

#[derive(Debug, Clone, Copy)]
pub struct Timers {
    pub t1: Duration,
    pub t2: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
        }
    }
}

struct ClientTx {
    party: Party,
    method: String,
    branch: String,
    request: SipMessage,
    bytes: Vec<u8>,
    dest: SocketAddr,
    state: State,
    interval: Duration,
    next_send: Option<Instant>,
    /// Timer B or F.
    give_up_at: Option<Instant>,
    /// The ACK of a non-2xx final, resent when the final is retransmitted.
    ack: Option<Vec<u8>>,
}

/// A response that matters to the call.
#[derive(Debug)]
pub struct TxResponse {
    pub party: Party,
    pub method: String,
    pub branch: String,
    pub msg: SipMessage,
}

/// A transaction that gave up (Timer B or F) without a final response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxTimeout {
    pub party: Party,
    pub method: String,
    pub branch: String,
}

#[derive(Default)]
pub struct Transactions {
    timers: Timers,
    txs: Vec<ClientTx>,
}

impl Transactions {
    pub fn new(timers: Timers) -> Self {
        Self {
            timers,
            txs: Vec::new(),
        }
    }

    /// Sends `request` and keeps retransmitting it until it is answered or
    /// times out. The request's top Via must carry a fresh branch.
    pub fn start(&mut self, ep: &Endpoint, party: Party, request: SipMessage, dest: SocketAddr) {
        let bytes = request.to_bytes();
        ep.send(&bytes, dest);
        let now = Instant::now();
        let method = request.method().unwrap_or_default().to_string();
        let branch = request.top_via_branch().unwrap_or_default().to_string();
        self.txs.push(ClientTx {
            party,
            method,
            branch,
            request,
            bytes,
            dest,
            state: State::Trying,
            interval: self.timers.t1,
            next_send: Some(now + self.timers.t1),
            give_up_at: Some(now + self.timers.t1 * 64),
            ack: None,
        });
    }

    /// The earliest instant a timer needs attention.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.txs
            .iter()
            .flat_map(|tx| [tx.next_send, tx.give_up_at])
            .flatten()
            .min()
    }

    /// Retransmits what is due and reports what timed out.
    pub fn on_timer(&mut self, ep: &Endpoint, now: Instant) -> Vec<TxTimeout> {
        let mut timeouts = Vec::new();
        for tx in &mut self.txs {
            if tx.give_up_at.is_some_and(|at| at <= now) {
                tx.give_up_at = None;
                tx.next_send = None;
                tx.state = State::Completed;
                timeouts.push(TxTimeout {
                    party: tx.party,
                    method: tx.method.clone(),
                    branch: tx.branch.clone(),
                });
                continue;
            }
            if tx.next_send.is_some_and(|at| at <= now) {
                ep.send(&tx.bytes, tx.dest);
                tx.interval = if tx.method == "INVITE" {
                    tx.interval * 2
                } else {
                    (tx.interval * 2).min(self.timers.t2)
                };
                tx.next_send = Some(now + tx.interval);
            }
        }
        timeouts
    }

    /// Matches a response to its transaction (top Via branch and CSeq method,
    /// §17.1.3) and moves the transaction on. Returns the response when the
    /// call should see it: provisionals, every 2xx to an INVITE, and the first
    /// copy of any other final.
    pub fn on_response(&mut self, ep: &Endpoint, msg: SipMessage) -> Option<TxResponse> {
        let status = msg.status()?;
        let branch = msg.top_via_branch()?.to_string();
        let method = msg.cseq()?.1.to_string();
        let t2 = self.timers.t2;
        let tx = self
            .txs
            .iter_mut()
            .find(|tx| tx.branch == branch && tx.method == method)?;
        let is_invite = tx.method == "INVITE";
        let pass_up = match status {
            100..=199 => {
                if tx.state == State::Trying {
                    tx.state = State::Proceeding;
                    if is_invite {
                        // Ringing may last; the call's ring timeout (and
                        // CANCEL) bounds it now, not Timer B.
                        tx.next_send = None;
                        tx.give_up_at = None;
                    } else {
                        tx.interval = t2;
                        tx.next_send = Some(Instant::now() + t2);
                    }
                }
                tx.state != State::Completed
            }
            200..=299 if is_invite => {
                tx.state = State::Completed;
                tx.next_send = None;
                tx.give_up_at = None;
                true
            }
            _ => {
                let first = tx.state != State::Completed;
                tx.state = State::Completed;
                tx.next_send = None;
                tx.give_up_at = None;
                if is_invite {
                    // §17.1.1.3: the ACK of a non-2xx final reuses the
                    // INVITE's branch and goes where the INVITE went.
                    let ack = tx
                        .ack
                        .get_or_insert_with(|| non_2xx_ack(&tx.request, &msg).to_bytes());
                    ep.send(ack, tx.dest);
                }
                first
            }
        };
        pass_up.then(|| TxResponse {
            party: tx.party,
            method: tx.method.clone(),
            branch,
            msg,
        })
    }

    /// Whether a non-INVITE transaction of this method is still waiting for
    /// its final response.
    pub fn pending(&self, method: &str) -> bool {
        self.txs
            .iter()
            .any(|tx| tx.method == method && tx.state != State::Completed)
    }

    /// The request a transaction sent (for CANCEL, which copies from it).
    pub fn request(&self, branch: &str, method: &str) -> Option<&SipMessage> {
        self.txs
            .iter()
            .find(|tx| tx.branch == branch && tx.method == method)
            .map(|tx| &tx.request)
    }

    /// Where a transaction's request went (a CANCEL must follow it there).
    pub fn dest(&self, branch: &str, method: &str) -> Option<SocketAddr> {
        self.txs
            .iter()
            .find(|tx| tx.branch == branch && tx.method == method)
            .map(|tx| tx.dest)
    }
}

/// The ACK for a non-2xx final response to `invite` (§17.1.1.3).
fn non_2xx_ack(invite: &SipMessage, response: &SipMessage) -> SipMessage {
    let uri = invite.request_uri().unwrap_or_default();
    let mut ack = SipMessage::request("ACK", uri);
    if let Some(via) = invite.header("Via") {
        ack = ack.with_header("Via", via);
    }
    for route in invite.header_values("Route") {
        ack = ack.with_header("Route", route);
    }
    if let Some(from) = invite.header("From") {
        ack = ack.with_header("From", from);
    }
    if let Some(to) = response.header("To") {
        ack = ack.with_header("To", to);
    }
    if let Some(cid) = invite.call_id() {
        ack = ack.with_header("Call-ID", cid);
    }
    if let Some((n, _)) = invite.cseq() {
        ack = ack.with_header("CSeq", format!("{n} ACK"));
    }
    ack.with_header("Max-Forwards", "70")
}
