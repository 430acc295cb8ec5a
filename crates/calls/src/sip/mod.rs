//! The SIP provider: two-way calls by third-party call control (RFC 3725)
//! through a SIP trunk, over UDP.
//!
//! Anxin is the controller. It calls the expert with an INVITE that carries no
//! SDP; the expert's phone answers with an SDP offer; Anxin calls the seeker
//! with that offer; the seeker's phone answers; Anxin ACKs the seeker and ACKs
//! the expert with the seeker's answer (flow I of RFC 3725 §4). The media then
//! flows between the two phones, while the signalling stays two separate
//! dialogs that only Anxin sees both of. Nothing but the (scrubbed) SDP ever
//! crosses from one leg to the other, and both legs see only the platform's
//! caller ID: that is how the seeker stays masked.
//!
//! Modules: [`message`] parses and builds messages, [`transport`] owns the
//! socket, [`transaction`] the timers, [`digest`] authentication, [`sdp`] what
//! crosses between legs, and `call` the flow itself.
mod call;
pub mod digest;
pub mod message;
pub mod sdp;
pub mod transaction;
pub mod transport;

use crate::provider::{CallHandle, CallProvider, CallRequest};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use transport::Endpoint;

/// Settings of the SIP provider. `ANXIN_SIP_TRUNK`, `ANXIN_SIP_CALLER_ID`,
/// `ANXIN_SIP_USERNAME` and `ANXIN_SIP_PASSWORD` map onto the first four.
#[derive(Clone)]
pub struct SipConfig {
    /// `host:port` of the trunk or PBX every call goes to.
    pub trunk: String,
    /// The platform's number, presented to both parties (`From`, and
    /// `P-Asserted-Identity` when `assert_identity`). The carrier must allow
    /// us to present it.
    pub caller_id: String,
    /// Digest credentials, used when the trunk challenges with 401/407.
    pub username: Option<String>,
    pub password: Option<String>,
    /// `host:port` every request is physically sent to, when set.
    pub outbound_proxy: Option<String>,
    /// How long a leg may ring before we CANCEL it. Keep it under ~30 s:
    /// while the seeker rings, the expert's 200 OK waits for our ACK, and a
    /// phone gives up on an unacknowledged 200 after 64·T1 = 32 s.
    pub ring_timeout: Duration,
    /// Local address of the UDP socket.
    pub bind: SocketAddr,
    /// The address to put in Via and Contact when the bound one is not what
    /// the trunk sees (NAT). Defaults to the local address used to reach the
    /// trunk.
    pub public_addr: Option<SocketAddr>,
    /// Also send `P-Asserted-Identity` with the caller ID (trusted trunks use
    /// it instead of `From`).
    pub assert_identity: bool,
    /// RFC 3261 T1, the base of every retransmission timer.
    pub timer_t1: Duration,
}

// The password never prints.
impl std::fmt::Debug for SipConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipConfig")
            .field("trunk", &self.trunk)
            .field("caller_id", &self.caller_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("outbound_proxy", &self.outbound_proxy)
            .field("ring_timeout", &self.ring_timeout)
            .field("bind", &self.bind)
            .field("public_addr", &self.public_addr)
            .field("assert_identity", &self.assert_identity)
            .field("timer_t1", &self.timer_t1)
            .finish()
    }
}

impl SipConfig {
    /// Defaults for everything but the trunk and the caller ID: no
    /// credentials, no proxy, no P-Asserted-Identity, 25 s ring timeout, any
    /// local port.
    pub fn new(trunk: impl Into<String>, caller_id: impl Into<String>) -> Self {
        Self {
            trunk: trunk.into(),
            caller_id: caller_id.into(),
            username: None,
            password: None,
            outbound_proxy: None,
            ring_timeout: Duration::from_secs(25),
            bind: SocketAddr::from(([0, 0, 0, 0], 0)),
            public_addr: None,
            assert_identity: false,
            timer_t1: Duration::from_millis(500),
        }
    }

    fn validate(&self) -> Result<(), SipError> {
        let cid = self.caller_id.strip_prefix('+').unwrap_or(&self.caller_id);
        if cid.is_empty() || !cid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SipError::Config(
                "caller ID must be a phone number: digits, optionally after +".into(),
            ));
        }
        for (name, value) in [
            ("trunk", Some(&self.trunk)),
            ("outbound proxy", self.outbound_proxy.as_ref()),
        ] {
            if let Some(v) = value {
                if trunk_host(v).is_none() {
                    return Err(SipError::Config(format!("{name} must be host:port")));
                }
            }
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(SipError::Config(
                "SIP username and password go together".into(),
            ));
        }
        if self.timer_t1.is_zero() || self.ring_timeout.is_zero() {
            return Err(SipError::Config(
                "SIP timers must be longer than zero".into(),
            ));
        }
        Ok(())
    }
}

/// The host part of `host:port` (brackets kept off IPv6 literals).
fn trunk_host(hostport: &str) -> Option<&str> {
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split_once(']')?.0
    } else {
        hostport.rsplit_once(':').map_or(hostport, |(h, _)| h)
    };
    (!host.is_empty() && !host.contains(char::is_whitespace)).then_some(host)
}

#[derive(Debug, thiserror::Error)]
pub enum SipError {
    #[error("SIP configuration: {0}")]
    Config(String),
    #[error("cannot bind the SIP socket: {0}")]
    Bind(#[source] std::io::Error),
}

/// Places calls through a SIP trunk. Cheap to share (`Arc<dyn CallProvider>`);
/// all its calls use one UDP socket.
pub struct SipProvider {
    endpoint: Arc<Endpoint>,
    config: Arc<SipConfig>,
}

impl std::fmt::Debug for SipProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SipProvider {
    /// Checks the settings and binds the socket.
    pub async fn start(config: SipConfig) -> Result<Self, SipError> {
        config.validate()?;
        let endpoint = Endpoint::bind(config.bind).await.map_err(SipError::Bind)?;
        tracing::info!(
            trunk = %config.trunk,
            local = ?endpoint.local_addr().ok(),
            "SIP provider ready"
        );
        Ok(Self {
            endpoint,
            config: Arc::new(config),
        })
    }

    /// The bound socket's address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }
}

impl CallProvider for SipProvider {
    fn place_call(&self, request: CallRequest) -> CallHandle {
        let (handle, control) = CallHandle::pair();
        tokio::spawn(call::run(
            self.endpoint.clone(),
            self.config.clone(),
            request,
            control,
        ));
        handle
    }

    fn is_simulated(&self) -> bool {
        false
    }
}
