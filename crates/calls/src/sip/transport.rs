//! The UDP endpoint: one socket per provider, shared by all its calls. A
//! receive task parses each datagram and hands it to the call that owns its
//! Call-ID (every leg gets its own random Call-ID, registered here for the
//! life of the call). Requests for Call-IDs nobody owns are answered here, so
//! a phone that hangs up late gets a clean 481 instead of silence.
use super::message::SipMessage;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// A message that arrived, with where it came from (responses to requests go
/// back there: RFC 3581 `rport` behaviour, which also crosses NATs).
#[derive(Debug)]
pub struct Inbound {
    pub msg: SipMessage,
    pub from: SocketAddr,
}

pub struct Endpoint {
    socket: Arc<UdpSocket>,
    routes: Mutex<HashMap<String, mpsc::UnboundedSender<Inbound>>>,
    receiver: Mutex<Option<AbortHandle>>,
}

impl Endpoint {
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Arc<Self>> {
        let socket = Arc::new(UdpSocket::bind(addr).await?);
        let endpoint = Arc::new(Self {
            socket: socket.clone(),
            routes: Mutex::new(HashMap::new()),
            receiver: Mutex::new(None),
        });
        // The receive task holds the endpoint weakly: when the provider and
        // its calls are gone, the endpoint drops and aborts the task.
        let task = tokio::spawn(receive_loop(socket, Arc::downgrade(&endpoint)));
        if let Ok(mut slot) = endpoint.receiver.lock() {
            *slot = Some(task.abort_handle());
        }
        Ok(endpoint)
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Sends without waiting. UDP is lossy anyway; the transaction timers
    /// retransmit whatever a full buffer or a network error swallowed.
    pub fn send(&self, bytes: &[u8], to: SocketAddr) {
        if let Err(e) = self.socket.try_send_to(bytes, to) {
            tracing::debug!(%to, error = %e, "SIP datagram not sent; timers will retransmit");
        }
    }

    /// Routes messages with these Call-IDs to `tx` until the returned guard
    /// drops.
    pub fn register(
        self: &Arc<Self>,
        call_ids: &[&str],
        tx: mpsc::UnboundedSender<Inbound>,
    ) -> Registration {
        if let Ok(mut routes) = self.routes.lock() {
            for id in call_ids {
                routes.insert((*id).to_string(), tx.clone());
            }
        }
        Registration {
            endpoint: self.clone(),
            call_ids: call_ids.iter().map(|s| (*s).to_string()).collect(),
        }
    }

    fn route(&self, inbound: Inbound) {
        let Some(call_id) = inbound.msg.call_id().map(str::to_owned) else {
            return;
        };
        let tx = self
            .routes
            .lock()
            .ok()
            .and_then(|routes| routes.get(&call_id).cloned());
        let undelivered = match tx {
            Some(tx) => tx.send(inbound).err().map(|e| e.0),
            None => Some(inbound),
        };
        if let Some(Inbound { msg, from }) = undelivered {
            self.answer_stray(&msg, from);
        }
    }

    /// A request outside any call we run: a new call (we take none) or a late
    /// one for a call that is over.
    fn answer_stray(&self, msg: &SipMessage, from: SocketAddr) {
        let Some(method) = msg.method() else {
            return; // a late response: nothing to do
        };
        let (status, reason) = match method {
            "ACK" => return,
            "INVITE" if msg.to_tag().is_none() => (403, "Forbidden"),
            "OPTIONS" if msg.to_tag().is_none() => (200, "OK"),
            _ => (481, "Call/Transaction Does Not Exist"),
        };
        let res = SipMessage::response_to(msg, status, reason, Some("anxin"));
        self.send(&res.to_bytes(), from);
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(task) = self.receiver.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

/// Unregisters a call's Call-IDs when the call ends.
pub struct Registration {
    endpoint: Arc<Endpoint>,
    call_ids: Vec<String>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut routes) = self.endpoint.routes.lock() {
            for id in &self.call_ids {
                routes.remove(id);
            }
        }
    }
}

async fn receive_loop(socket: Arc<UdpSocket>, endpoint: Weak<Endpoint>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                // e.g. ICMP port unreachable surfacing as ECONNREFUSED; the
                // socket stays usable.
                tracing::debug!(error = %e, "SIP receive error");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let msg = match SipMessage::parse(&buf[..len]) {
            Ok(msg) => msg,
            Err(e) => {
                // Keep-alives (CRLF) and garbage; never log the bytes.
                tracing::trace!(%from, error = %e, "unparseable datagram ignored");
                continue;
            }
        };
        let Some(endpoint) = endpoint.upgrade() else {
            return;
        };
        endpoint.route(Inbound { msg, from });
    }
}
