//! SIP messages (RFC 3261 §7): parsing what arrives on the wire and building
//! what we send. A deliberately small subset: the header fields the call flow
//! reads get typed accessors; everything else is kept as text.
//!
//! Raw messages carry phone numbers, so nothing here implements `Display`,
//! and callers log only methods, status codes and Call-IDs (which we make
//! random).
use std::fmt::Write as _;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("not UTF-8")]
    Encoding,
    #[error("no end of headers")]
    Truncated,
    #[error("bad start line")]
    StartLine,
    #[error("bad header line")]
    Header,
    #[error("body shorter than Content-Length")]
    ShortBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request { method: String, uri: String },
    Response { status: u16, reason: String },
}

#[derive(Clone, PartialEq, Eq)]
pub struct SipMessage {
    pub start: StartLine,
    /// In order of appearance, names in their long form.
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

// A derived Debug would print URIs, i.e. phone numbers.
impl std::fmt::Debug for SipMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.start {
            StartLine::Request { method, .. } => write!(f, "SipMessage({method}")?,
            StartLine::Response { status, .. } => write!(f, "SipMessage({status}")?,
        }
        write!(f, ", Call-ID {:?})", self.call_id().unwrap_or("-"))
    }
}

/// Compact header names (RFC 3261 §7.3.3) and their long forms.
const COMPACT: &[(&str, &str)] = &[
    ("i", "Call-ID"),
    ("m", "Contact"),
    ("e", "Content-Encoding"),
    ("l", "Content-Length"),
    ("c", "Content-Type"),
    ("f", "From"),
    ("s", "Subject"),
    ("k", "Supported"),
    ("t", "To"),
    ("v", "Via"),
];

/// Header fields that may hold several comma-separated values.
const MULTI_VALUED: &[&str] = &[
    "Via",
    "Route",
    "Record-Route",
    "Contact",
    "Allow",
    "Supported",
];

impl SipMessage {
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let (head_len, sep_len) = find_header_end(bytes).ok_or(ParseError::Truncated)?;
        let head = std::str::from_utf8(&bytes[..head_len]).map_err(|_| ParseError::Encoding)?;
        let rest = &bytes[head_len + sep_len..];
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let first = lines.next().ok_or(ParseError::StartLine)?;
        let start = parse_start_line(first)?;

        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                // A folded continuation of the previous header (§7.3.1).
                let (_, value) = headers.last_mut().ok_or(ParseError::Header)?;
                value.push(' ');
                value.push_str(line.trim());
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let (name, value) = line.split_once(':').ok_or(ParseError::Header)?;
            let name = name.trim();
            if name.is_empty() {
                return Err(ParseError::Header);
            }
            let long = COMPACT
                .iter()
                .find(|(short, _)| short.eq_ignore_ascii_case(name))
                .map_or(name, |(_, long)| long);
            headers.push((long.to_string(), value.trim().to_string()));
        }
        let mut msg = Self {
            start,
            headers,
            body: Vec::new(),
        };
        let body_len = match msg.header("Content-Length") {
            Some(v) => v.parse::<usize>().map_err(|_| ParseError::Header)?,
            // Over UDP a missing length means "the rest of the datagram".
            None => rest.len(),
        };
        if rest.len() < body_len {
            return Err(ParseError::ShortBody);
        }
        msg.body = rest[..body_len].to_vec();
        Ok(msg)
    }

    pub fn request(method: &str, uri: &str) -> Self {
        Self {
            start: StartLine::Request {
                method: method.to_string(),
                uri: uri.to_string(),
            },
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A response to `req` per §8.2.6: Via, From, To, Call-ID and CSeq copied,
    /// and our tag added to To when it has none.
    pub fn response_to(req: &SipMessage, status: u16, reason: &str, to_tag: Option<&str>) -> Self {
        let mut res = Self {
            start: StartLine::Response {
                status,
                reason: reason.to_string(),
            },
            headers: Vec::new(),
            body: Vec::new(),
        };
        for (name, value) in &req.headers {
            let copy = ["Via", "From", "Call-ID", "CSeq"]
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name));
            if copy {
                res.headers.push((name.clone(), value.clone()));
            } else if name.eq_ignore_ascii_case("To") {
                let mut to = value.clone();
                if let Some(tag) = to_tag.filter(|_| param(value, "tag").is_none()) {
                    let _ = write!(to, ";tag={tag}");
                }
                res.headers.push((name.clone(), to));
            }
        }
        res
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn with_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers
            .push(("Content-Type".to_string(), content_type.to_string()));
        self.body = body.into();
        self
    }

    /// The wire form. Content-Length is computed here, never copied.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(512);
        match &self.start {
            StartLine::Request { method, uri } => {
                let _ = write!(out, "{method} {uri} SIP/2.0\r\n");
            }
            StartLine::Response { status, reason } => {
                let _ = write!(out, "SIP/2.0 {status} {reason}\r\n");
            }
        }
        for (name, value) in &self.headers {
            if !name.eq_ignore_ascii_case("Content-Length") {
                let _ = write!(out, "{name}: {value}\r\n");
            }
        }
        let _ = write!(out, "Content-Length: {}\r\n\r\n", self.body.len());
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    pub fn request_uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { status, .. } => Some(*status),
            StartLine::Request { .. } => None,
        }
    }

    /// The first value of a header (for multi-valued headers, the first
    /// comma-separated element).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }

    /// Every value of a header, in order, comma-separated lists split.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        let split = MULTI_VALUED.iter().any(|h| h.eq_ignore_ascii_case(name));
        let mut out = Vec::new();
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case(name) {
                if split {
                    out.extend(split_list(v));
                } else {
                    out.push(v.as_str());
                }
            }
        }
        out
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }

    /// The CSeq number and method.
    pub fn cseq(&self) -> Option<(u32, &str)> {
        let (num, method) = self.header("CSeq")?.split_once(char::is_whitespace)?;
        Some((num.trim().parse().ok()?, method.trim()))
    }

    /// The branch of the top Via: with the CSeq method, it names the
    /// transaction a response belongs to (§17.1.3).
    pub fn top_via_branch(&self) -> Option<&str> {
        param(self.header("Via")?, "branch")
    }

    pub fn from_tag(&self) -> Option<&str> {
        param(self.header("From")?, "tag")
    }

    pub fn to_tag(&self) -> Option<&str> {
        param(self.header("To")?, "tag")
    }

    /// The URI of the Contact header, without display name or parameters.
    pub fn contact_uri(&self) -> Option<&str> {
        name_addr_uri(self.header("Contact")?)
    }

    pub fn body_text(&self) -> Option<&str> {
        if self.body.is_empty() {
            return None;
        }
        std::str::from_utf8(&self.body).ok()
    }

    /// The SDP body, when the message carries one.
    pub fn sdp(&self) -> Option<&str> {
        let is_sdp = match self.header("Content-Type") {
            Some(t) => t.to_ascii_lowercase().starts_with("application/sdp"),
            None => true,
        };
        self.body_text().filter(|_| is_sdp)
    }
}

fn find_header_end(bytes: &[u8]) -> Option<(usize, usize)> {
    if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        return Some((i, 4));
    }
    bytes.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2))
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let status: u16 = code.parse().map_err(|_| ParseError::StartLine)?;
        if !(100..700).contains(&status) {
            return Err(ParseError::StartLine);
        }
        return Ok(StartLine::Response {
            status,
            reason: reason.to_string(),
        });
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some("SIP/2.0"), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::StartLine);
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ParseError::StartLine);
    }
    Ok(StartLine::Request {
        method: method.to_string(),
        uri: uri.to_string(),
    })
}

/// Splits a header value at commas that are outside quotes and angle
/// brackets.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut angled, mut start) = (false, false, 0);
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => angled = true,
            '>' if !quoted => angled = false,
            ',' if !quoted && !angled => {
                out.push(value[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = value[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// The URI inside a name-addr (`"Name" <sip:..>;tag=x`) or addr-spec
/// (`sip:..;tag=x`, where parameters belong to the header, §20.10).
pub fn name_addr_uri(value: &str) -> Option<&str> {
    if let Some(open) = value.find('<') {
        let close = value[open..].find('>')? + open;
        return Some(value[open + 1..close].trim());
    }
    let uri = value.split(';').next()?.trim();
    (!uri.is_empty()).then_some(uri)
}

/// A header parameter (after the URI, outside angle brackets), e.g. `tag`.
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let params = match value.rfind('>') {
        Some(close) => &value[close + 1..],
        None => value.split_once(';').map_or("", |(_, p)| p),
    };
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The parts of a `sip:` URI we need to send a request to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri<'a> {
    pub host: &'a str,
    pub port: Option<u16>,
    /// Loose routing (`;lr`), for route set entries.
    pub lr: bool,
}

impl<'a> SipUri<'a> {
    pub fn parse(uri: &'a str) -> Option<Self> {
        let rest = uri
            .strip_prefix("sip:")
            .or_else(|| uri.strip_prefix("SIP:"))?;
        let (before_params, params) = rest.split_once(';').unwrap_or((rest, ""));
        let before_params = before_params.split('?').next().unwrap_or(before_params);
        let hostport = before_params
            .rsplit_once('@')
            .map_or(before_params, |(_, h)| h);
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']')?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let port = match port {
            Some(p) => Some(p.parse().ok()?),
            None => None,
        };
        if host.is_empty() {
            return None;
        }
        let lr = params
            .split(';')
            .any(|p| p.trim().eq_ignore_ascii_case("lr") || p.trim().starts_with("lr="));
        Some(Self { host, port, lr })
    }

    /// `host:port` for a resolver, the SIP default port when none is given.
    pub fn host_port(&self) -> String {
        let port = self.port.unwrap_or(5060);
        if self.host.contains(':') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE_200: &str = "SIP/2.0 200 OK\r\n\
        v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport=5070, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKdef\r\n\
        f: <sip:+8640000000@trunk>;tag=ours\r\n\
        To: \"Expert, A\" <sip:+8610000001@trunk>;tag=theirs\r\n\
        Call-ID: abc123\r\n\
        CSeq: 1 INVITE\r\n\
        Contact: <sip:sipp@127.0.0.1:5080;transport=udp>\r\n\
        Record-Route: <sip:p1.example;lr>,\r\n <sip:p2.example;lr>\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 5\r\n\
        \r\n\
        v=0\r\n";

    #[test]
    fn parses_compact_forms_folding_and_lists() {
        let m = SipMessage::parse(INVITE_200.as_bytes()).unwrap();
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.top_via_branch(), Some("z9hG4bKabc"));
        assert_eq!(m.header_values("Via").len(), 2);
        assert_eq!(m.from_tag(), Some("ours"));
        assert_eq!(m.to_tag(), Some("theirs"));
        assert_eq!(m.cseq(), Some((1, "INVITE")));
        assert_eq!(
            m.contact_uri(),
            Some("sip:sipp@127.0.0.1:5080;transport=udp")
        );
        assert_eq!(
            m.header_values("Record-Route"),
            vec!["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
        );
        assert_eq!(m.sdp(), Some("v=0\r\n"));
    }

    #[test]
    fn round_trips_and_computes_content_length() {
        let m = SipMessage::request("BYE", "sip:a@127.0.0.1:5080")
            .with_header("Call-ID", "x")
            .with_header("CSeq", "2 BYE")
            .with_body("application/sdp", "v=0\r\n");
        let again = SipMessage::parse(&m.to_bytes()).unwrap();
        assert_eq!(again.method(), Some("BYE"));
        assert_eq!(again.header("Content-Length"), Some("5"));
        assert_eq!(again.body, b"v=0\r\n");
    }

    #[test]
    fn refuses_garbage_and_short_bodies() {
        assert!(SipMessage::parse(b"hello").is_err());
        assert!(SipMessage::parse(b"HELLO WORLD\r\n\r\n").is_err());
        assert_eq!(
            SipMessage::parse(b"SIP/2.0 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
            Err(ParseError::ShortBody)
        );
    }

    #[test]
    fn parses_uris() {
        let u = SipUri::parse("sip:+861@127.0.0.1:5080;transport=udp").unwrap();
        assert_eq!((u.host, u.port, u.lr), ("127.0.0.1", Some(5080), false));
        let r = SipUri::parse("sip:proxy.example;lr").unwrap();
        assert_eq!(r.host_port(), "proxy.example:5060");
        assert!(r.lr);
        assert_eq!(
            SipUri::parse("sip:[::1]:5062").unwrap().host_port(),
            "[::1]:5062"
        );
        assert!(SipUri::parse("tel:+861").is_none());
    }

    #[test]
    fn response_copies_the_transaction_headers_and_adds_a_tag() {
        let req = SipMessage::request("BYE", "sip:anxin@127.0.0.1")
            .with_header("Via", "SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1")
            .with_header("From", "<sip:a@b>;tag=1")
            .with_header("To", "<sip:c@d>")
            .with_header("Call-ID", "cid")
            .with_header("CSeq", "5 BYE")
            .with_header("Max-Forwards", "70");
        let res = SipMessage::response_to(&req, 200, "OK", Some("t2"));
        assert_eq!(res.to_tag(), Some("t2"));
        assert_eq!(res.cseq(), Some((5, "BYE")));
        assert!(res.header("Max-Forwards").is_none());
    }
}
