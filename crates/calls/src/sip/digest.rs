//! Digest authentication (RFC 3261 §22.4, RFC 2617): answering a trunk's
//! 401/407 challenge with `Authorization`/`Proxy-Authorization`. MD5 and
//! MD5-sess, with `qop=auth` or without qop. SHA-256 (RFC 8760) and
//! `qop=auth-int` are refused with an error rather than answered wrongly.
use md5::{Digest, Md5};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Option<String>,
    /// The qop options offered, e.g. `["auth", "auth-int"]`.
    pub qop: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("challenge is not Digest or lacks realm/nonce")]
    Malformed,
    #[error("digest algorithm {0} is not supported")]
    Algorithm(String),
    #[error("the challenge offers only qop {0}, which is not supported")]
    Qop(String),
}

impl Challenge {
    /// Parses a `WWW-Authenticate` / `Proxy-Authenticate` value.
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        let rest = value.trim();
        let (scheme, params) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if !scheme.eq_ignore_ascii_case("digest") {
            return Err(DigestError::Malformed);
        }
        let mut realm = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut algorithm = None;
        let mut qop = Vec::new();
        for (k, v) in auth_params(params) {
            match k.to_ascii_lowercase().as_str() {
                "realm" => realm = Some(v),
                "nonce" => nonce = Some(v),
                "opaque" => opaque = Some(v),
                "algorithm" => algorithm = Some(v),
                "qop" => {
                    qop = v
                        .split(',')
                        .map(|q| q.trim().to_ascii_lowercase())
                        .filter(|q| !q.is_empty())
                        .collect()
                }
                _ => {}
            }
        }
        Ok(Self {
            realm: realm.ok_or(DigestError::Malformed)?,
            nonce: nonce.ok_or(DigestError::Malformed)?,
            opaque,
            algorithm,
            qop,
        })
    }

    /// The credentials header value for `method` on `uri`. `cnonce` is a
    /// fresh random string per request; with a fresh nonce per challenge the
    /// nonce count is always 1.
    pub fn answer(
        &self,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
    ) -> Result<String, DigestError> {
        let sess = match self.algorithm.as_deref().map(str::to_ascii_uppercase) {
            None => false,
            Some(a) if a == "MD5" => false,
            Some(a) if a == "MD5-SESS" => true,
            Some(a) => return Err(DigestError::Algorithm(a)),
        };
        let use_qop = if self.qop.is_empty() {
            false
        } else if self.qop.iter().any(|q| q == "auth") {
            true
        } else {
            return Err(DigestError::Qop(self.qop.join(",")));
        };
        let nc = "00000001";
        let mut ha1 = md5_hex(&format!("{username}:{}:{password}", self.realm));
        if sess {
            ha1 = md5_hex(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let response = if use_qop {
            md5_hex(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce))
        } else {
            md5_hex(&format!("{ha1}:{}:{ha2}", self.nonce))
        };
        let mut out = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", response=\"{response}\"",
            quote(username),
            quote(&self.realm),
            quote(&self.nonce),
        );
        if let Some(alg) = &self.algorithm {
            out.push_str(&format!(", algorithm={alg}"));
        }
        if use_qop {
            out.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\""));
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(&format!(", opaque=\"{}\"", quote(opaque)));
        }
        Ok(out)
    }
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// `k=v, k="quoted, with commas"` pairs.
fn auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_string();
        if key.is_empty() {
            break;
        }
        while matches!(chars.peek(), Some(c) if c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
            value = value.trim().to_string();
        }
        out.push((key, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_the_rfc_2617_example() {
        let ch = Challenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert_eq!(ch.qop, vec!["auth", "auth-int"]);
        let a = ch
            .answer(
                "Mufasa",
                "Circle Of Life",
                "GET",
                "/dir/index.html",
                "0a4f113b",
            )
            .unwrap();
        assert!(
            a.contains(r#"response="6629fae49393a05397450978507c4ef1""#),
            "{a}"
        );
        assert!(a.contains("qop=auth, nc=00000001"));
        assert!(a.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#));
    }

    #[test]
    fn answers_without_qop_and_refuses_what_it_cannot_do() {
        let ch = Challenge::parse(r#"Digest realm="r", nonce="n""#).unwrap();
        let a = ch.answer("u", "p", "INVITE", "sip:x@y", "c").unwrap();
        let expect = md5_hex(&format!(
            "{}:n:{}",
            md5_hex("u:r:p"),
            md5_hex("INVITE:sip:x@y")
        ));
        assert!(a.contains(&expect));
        assert!(!a.contains("qop"));

        let sha = Challenge::parse(r#"Digest realm="r", nonce="n", algorithm=SHA-256"#).unwrap();
        assert!(matches!(
            sha.answer("u", "p", "INVITE", "sip:x@y", "c"),
            Err(DigestError::Algorithm(_))
        ));
        assert!(Challenge::parse("Basic realm=\"r\"").is_err());
    }
}
