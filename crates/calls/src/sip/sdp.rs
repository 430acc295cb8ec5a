//! SDP that crosses from one leg to the other. In third-party call control
//! the only thing that passes between the legs is the session description:
//! the expert's offer goes to the seeker, the seeker's answer to the expert.
//! A phone's SDP may name its user (the `o=` username, `s=`, `i=`, `e=`,
//! `p=`, `u=` lines), so before it crosses we blank those fields and then
//! check that the other party's number appears nowhere; if it still does, the
//! call fails rather than leak it.
use anxin_domain::phone::PhoneNumber;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    #[error("not a session description")]
    Malformed,
    #[error("the session description carries the party's number")]
    CarriesNumber,
}

/// Returns `sdp` fit to show the other leg: identifying fields blanked and
/// `owner`'s number nowhere in it. Media lines pass unchanged (the media must
/// still flow between the two phones).
pub fn scrub(sdp: &str, owner: &PhoneNumber) -> Result<String, SdpError> {
    let mut out = String::with_capacity(sdp.len());
    let mut saw_version = false;
    for line in sdp.lines().map(str::trim_end) {
        if line.is_empty() {
            continue;
        }
        let Some((kind, value)) = line.split_once('=') else {
            return Err(SdpError::Malformed);
        };
        match kind {
            "v" => {
                saw_version = true;
                out.push_str(line);
            }
            // o=<username> <sess-id> <sess-version> <nettype> <addrtype> <addr>
            "o" => {
                let rest = value.split_once(' ').map_or("", |(_, r)| r);
                out.push_str("o=- ");
                out.push_str(rest);
            }
            "s" => out.push_str("s=-"),
            // Free text and contact details of the session's owner.
            "i" | "u" | "e" | "p" => continue,
            _ => out.push_str(line),
        }
        out.push_str("\r\n");
    }
    if !saw_version {
        return Err(SdpError::Malformed);
    }
    if carries_number(&out, owner) {
        return Err(SdpError::CarriesNumber);
    }
    Ok(out)
}

/// Whether `text` contains `phone` in any usual spelling: the check looks for
/// its last eight digits (or all, when shorter), which every spelling (E.164,
/// national, with or without prefix) contains.
pub fn carries_number(text: &str, phone: &PhoneNumber) -> bool {
    let digits: String = phone
        .expose_e164()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let tail = &digits[digits.len().saturating_sub(8)..];
    // Joining digits across separators catches `137-0000-1234` and the like.
    digit_runs(text).any(|run| run.contains(tail))
}

/// Runs of digits with separators (`-`, `.`, space) removed.
fn digit_runs(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '.' | ' ' | '(' | ')')))
        .map(|run| run.chars().filter(char::is_ascii_digit).collect())
}

/// An answer that rejects every stream of `offer` (port 0, RFC 3264 §6). We
/// send it in the ACK to the expert when the seeker never answered: flow I of
/// RFC 3725 leaves the expert's offer pending, an ACK must answer it, and the
/// leg is released with BYE right after.
pub fn reject_all(offer: &str, local_ip: &str) -> String {
    let addr_type = if local_ip.contains(':') { "IP6" } else { "IP4" };
    let mut out = format!(
        "v=0\r\no=- 0 0 IN {addr_type} {local_ip}\r\ns=-\r\nc=IN {addr_type} {local_ip}\r\nt=0 0\r\n"
    );
    for line in offer.lines().map(str::trim_end) {
        if let Some(media) = line.strip_prefix("m=") {
            // m=<media> <port> <proto> <fmt> ...
            let parts: Vec<&str> = media.split_whitespace().collect();
            if let [kind, _port, proto, fmt, ..] = parts.as_slice() {
                out.push_str(&format!("m={kind} 0 {proto} {fmt}\r\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(s: &str) -> PhoneNumber {
        PhoneNumber::parse("p", s).unwrap()
    }

    const SEEKER_SDP: &str = "v=0\r\n\
        o=+8613700001234 53655765 2353687637 IN IP4 127.0.0.1\r\n\
        s=13700001234\r\n\
        i=call from 137-0000-1234\r\n\
        e=someone@example.com\r\n\
        c=IN IP4 127.0.0.1\r\n\
        t=0 0\r\n\
        m=audio 6000 RTP/AVP 0 8\r\n\
        a=rtpmap:0 PCMU/8000\r\n";

    #[test]
    fn scrub_blanks_the_owner_fields_and_keeps_the_media() {
        let seeker = phone("+8613700001234");
        let out = scrub(SEEKER_SDP, &seeker).unwrap();
        assert!(!out.contains("13700001234"));
        assert!(!carries_number(&out, &seeker));
        assert!(out.contains("o=- 53655765 2353687637 IN IP4 127.0.0.1\r\n"));
        assert!(out.contains("s=-\r\n"));
        assert!(out.contains("m=audio 6000 RTP/AVP 0 8\r\n"));
        assert!(out.contains("a=rtpmap:0 PCMU/8000\r\n"));
        assert!(!out.contains("e="));
    }

    #[test]
    fn scrub_refuses_a_number_hidden_elsewhere() {
        let seeker = phone("+8613700001234");
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\na=label:137 0000 1234\r\n";
        assert_eq!(scrub(sdp, &seeker), Err(SdpError::CarriesNumber));
        assert_eq!(scrub("hello", &seeker), Err(SdpError::Malformed));
    }

    #[test]
    fn reject_all_answers_every_stream_with_port_zero() {
        let out = reject_all(SEEKER_SDP, "127.0.0.1");
        assert!(out.contains("m=audio 0 RTP/AVP 0\r\n"));
        assert!(out.starts_with("v=0\r\n"));
    }
}
