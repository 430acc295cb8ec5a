//! Alipay Open Platform: the mobile cashier (`alipay.trade.wap.pay`), the
//! asynchronous notification, `alipay.trade.query` and `alipay.trade.refund`.
//!
//! Every request is signed RSA2: SHA256withRSA (RSASSA-PKCS1-v1_5) with the
//! merchant's private key over the request's parameters, sorted by name, as
//! `name=value` joined by `&`, without `sign` and without empty values; the
//! signature goes in `sign`, base64. Alipay signs its notifications the same
//! way (without `sign` and `sign_type`) and its responses over the exact
//! JSON text of the `…_response` member; both are checked with Alipay's
//! public key. The RSA itself is `ring`'s, through `jsonwebtoken` (RS256 is
//! SHA256withRSA); this module writes the protocol only.
use super::{PayFuture, PaymentError, PaymentProvider, Queried};
use anxin_domain::ids::PaymentId;
use anxin_domain::payment::{yuan, ProviderName};
use anxin_store::payments::PaymentRow;
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};

/// Alipay's production gateway.
pub const PRODUCTION_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";

/// Where notifications are sent, under `ANXIN_PUBLIC_URL`.
pub const NOTIFY_PATH: &str = "/v1/payments/alipay/notify";

/// What the merchant configured.
pub struct AlipayConfig {
    pub app_id: String,
    /// The merchant's RSA private key: PEM (PKCS#8 or PKCS#1), or the bare
    /// base64 Alipay's key tool prints.
    pub private_key: String,
    /// Alipay's RSA public key, PEM or bare base64.
    pub alipay_public_key: String,
    pub gateway: String,
    /// `ANXIN_PUBLIC_URL`, no trailing `/`.
    pub public_url: String,
}

pub struct Alipay {
    app_id: String,
    signer: EncodingKey,
    verifier: DecodingKey,
    gateway: String,
    notify_url: String,
    return_url: String,
    http: reqwest::Client,
}

fn pem(raw: &str, label: &str) -> String {
    let raw = raw.trim();
    if raw.starts_with("-----BEGIN") {
        return raw.to_string();
    }
    let body: String = raw.split_whitespace().collect();
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn bad_key(what: &str) -> PaymentError {
    PaymentError(format!("{what} is not an RSA key in PEM or base64"))
}

/// The signed content of a set of parameters: sorted by name, without
/// `sign` (and `skip`), without empty values.
pub fn signed_content(params: &BTreeMap<String, String>, skip: &[&str]) -> String {
    params
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && !skip.contains(&k.as_str()) && !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Alipay's timestamps: Beijing time, `yyyy-MM-dd HH:mm:ss`.
fn beijing(at: DateTime<Utc>) -> String {
    anxin_domain::clock::beijing(at)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A notification that verified and names one of our payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notified {
    pub payment_id: PaymentId,
    pub trade_no: Option<String>,
    pub trade_status: String,
    pub total_amount: String,
}

impl Notified {
    /// `TRADE_SUCCESS` and `TRADE_FINISHED` mean the money was taken.
    pub fn is_paid(&self) -> bool {
        matches!(
            self.trade_status.as_str(),
            "TRADE_SUCCESS" | "TRADE_FINISHED"
        )
    }
}

/// Why a notification is refused, in words safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the signature does not verify with Alipay's public key")]
    Signature,
    #[error("the notification is for another merchant app")]
    AppId,
    #[error("out_trade_no is not one of our payments")]
    UnknownTrade,
    #[error("a required field is missing: {0}")]
    Missing(&'static str),
}

impl Alipay {
    pub fn new(config: AlipayConfig) -> Result<Self, PaymentError> {
        let private = pem(&config.private_key, "PRIVATE KEY");
        let signer = EncodingKey::from_rsa_pem(private.as_bytes())
            .or_else(|_| {
                EncodingKey::from_rsa_pem(pem(&config.private_key, "RSA PRIVATE KEY").as_bytes())
            })
            .map_err(|_| bad_key("the merchant private key"))?;
        let verifier =
            DecodingKey::from_rsa_pem(pem(&config.alipay_public_key, "PUBLIC KEY").as_bytes())
                .map_err(|_| bad_key("Alipay's public key"))?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| PaymentError(format!("HTTP client: {e}")))?;
        Ok(Self {
            app_id: config.app_id,
            signer,
            verifier,
            gateway: config.gateway,
            notify_url: format!("{}{NOTIFY_PATH}", config.public_url),
            return_url: format!("{}/app", config.public_url),
            http,
        })
    }

    fn sign(&self, content: &str) -> Result<String, PaymentError> {
        let url_safe =
            jsonwebtoken::crypto::sign(content.as_bytes(), &self.signer, Algorithm::RS256)
                .map_err(|_| PaymentError("signing failed".into()))?;
        // jsonwebtoken answers base64url; Alipay reads standard base64.
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(url_safe)
            .map_err(|_| PaymentError("signing failed".into()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(raw))
    }

    fn verifies(&self, content: &str, sign: &str) -> bool {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(sign.trim()) else {
            return false;
        };
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        jsonwebtoken::crypto::verify(
            &url_safe,
            content.as_bytes(),
            &self.verifier,
            Algorithm::RS256,
        )
        .unwrap_or(false)
    }

    /// The common parameters of a request, signed.
    fn signed_request(
        &self,
        method: &str,
        biz: serde_json::Value,
        extra: &[(&str, &str)],
    ) -> Result<BTreeMap<String, String>, PaymentError> {
        let mut p: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in [
            ("app_id", self.app_id.as_str()),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("version", "1.0"),
        ] {
            p.insert(k.into(), v.into());
        }
        p.insert("timestamp".into(), beijing(Utc::now()));
        p.insert("biz_content".into(), biz.to_string());
        for (k, v) in extra {
            p.insert((*k).into(), (*v).into());
        }
        let sign = self.sign(&signed_content(&p, &[]))?;
        p.insert("sign".into(), sign);
        Ok(p)
    }

    /// Calls the gateway and returns the verified `…_response` member.
    async fn call(
        &self,
        method: &str,
        biz: serde_json::Value,
    ) -> Result<serde_json::Value, PaymentError> {
        let params = self.signed_request(method, biz, &[])?;
        let body = serde_urlencoded::to_string(&params)
            .map_err(|e| PaymentError(format!("encoding the request: {e}")))?;
        let answer = self
            .http
            .post(&self.gateway)
            .header(
                "Content-Type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| {
                PaymentError(format!(
                    "Alipay did not answer {method}: {}",
                    e.without_url()
                ))
            })?;
        let text = answer.text().await.map_err(|e| {
            PaymentError(format!("Alipay's answer to {method}: {}", e.without_url()))
        })?;
        let envelope: HashMap<String, &RawValue> = serde_json::from_str(&text)
            .map_err(|_| PaymentError(format!("Alipay's answer to {method} is not JSON")))?;
        let member = format!("{}_response", method.replace('.', "_"));
        let (Some(response), Some(sign)) = (envelope.get(&member), envelope.get("sign")) else {
            return Err(PaymentError(format!(
                "Alipay's answer to {method} lacks {member} or sign"
            )));
        };
        let sign: String = serde_json::from_str(sign.get())
            .map_err(|_| PaymentError("Alipay's sign is not a string".into()))?;
        if !self.verifies(response.get(), &sign) {
            return Err(PaymentError(format!(
                "Alipay's answer to {method} does not verify with its public key"
            )));
        }
        serde_json::from_str(response.get())
            .map_err(|_| PaymentError(format!("Alipay's {member} is not an object")))
    }

    /// Verifies a notification (its form fields) and reads what it says.
    pub fn verify_notification(&self, fields: &[(String, String)]) -> Result<Notified, Refused> {
        let mut params: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in fields {
            params.insert(k.clone(), v.clone());
        }
        let sign = params.get("sign").ok_or(Refused::Missing("sign"))?;
        if !self.verifies(&signed_content(&params, &["sign_type"]), sign) {
            return Err(Refused::Signature);
        }
        if params.get("app_id") != Some(&self.app_id) {
            return Err(Refused::AppId);
        }
        let field = |name: &'static str| params.get(name).cloned().ok_or(Refused::Missing(name));
        let payment_id = field("out_trade_no")?
            .parse::<uuid::Uuid>()
            .map(PaymentId)
            .map_err(|_| Refused::UnknownTrade)?;
        Ok(Notified {
            payment_id,
            trade_no: params.get("trade_no").cloned(),
            trade_status: field("trade_status")?,
            total_amount: field("total_amount")?,
        })
    }
}

impl PaymentProvider for Alipay {
    fn name(&self) -> ProviderName {
        ProviderName::Alipay
    }

    /// The mobile cashier: the gateway with a signed `alipay.trade.wap.pay`
    /// request in its query. Alipay returns the seeker to `/app`.
    fn pay_url(&self, payment: &PaymentRow) -> Result<String, PaymentError> {
        let biz = serde_json::json!({
            "out_trade_no": payment.id.to_string(),
            "total_amount": yuan(payment.amount_minor),
            "subject": "安心 预约费 Anxin booking fee",
            "product_code": "QUICK_WAP_WAY",
            "time_expire": beijing(payment.expires_at),
            "quit_url": self.return_url,
        });
        let params = self.signed_request(
            "alipay.trade.wap.pay",
            biz,
            &[
                ("notify_url", &self.notify_url),
                ("return_url", &self.return_url),
            ],
        )?;
        let query = serde_urlencoded::to_string(&params)
            .map_err(|e| PaymentError(format!("encoding the order: {e}")))?;
        Ok(format!("{}?{query}", self.gateway))
    }

    /// `alipay.trade.refund` of the whole fee; `out_request_no` is the
    /// payment's id, so a repeated refund is one refund at Alipay.
    fn refund<'a>(&'a self, payment: &'a PaymentRow) -> PayFuture<'a, ()> {
        Box::pin(async move {
            let biz = serde_json::json!({
                "out_trade_no": payment.id.to_string(),
                "refund_amount": yuan(payment.amount_minor),
                "out_request_no": payment.id.to_string(),
                "refund_reason": "Anxin: booking fee refunded",
            });
            let r = self.call("alipay.trade.refund", biz).await?;
            match r.get("code").and_then(|c| c.as_str()) {
                Some("10000") => Ok(()),
                code => Err(PaymentError(format!(
                    "alipay.trade.refund refused: code {}, {}",
                    code.unwrap_or("none"),
                    r.get("sub_msg")
                        .or(r.get("msg"))
                        .and_then(|m| m.as_str())
                        .unwrap_or("")
                ))),
            }
        })
    }

    fn query<'a>(&'a self, payment: &'a PaymentRow) -> PayFuture<'a, Queried> {
        Box::pin(async move {
            let biz = serde_json::json!({"out_trade_no": payment.id.to_string()});
            let r = self.call("alipay.trade.query", biz).await?;
            let text = |k: &str| r.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            let paid = text("code").as_deref() == Some("10000")
                && matches!(
                    text("trade_status").as_deref(),
                    Some("TRADE_SUCCESS" | "TRADE_FINISHED")
                )
                && text("total_amount").as_deref() == Some(yuan(payment.amount_minor).as_str());
            Ok(if paid {
                Queried::Paid {
                    trade_no: text("trade_no"),
                }
            } else {
                Queried::NotPaid
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_content_is_sorted_and_leaves_out_sign_and_empty_values() {
        let p: BTreeMap<String, String> = [
            ("method", "alipay.trade.query"),
            ("app_id", "2021"),
            ("sign", "xxx"),
            ("sign_type", "RSA2"),
            ("empty", ""),
            ("biz_content", r#"{"a":"b"}"#),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            signed_content(&p, &[]),
            r#"app_id=2021&biz_content={"a":"b"}&method=alipay.trade.query&sign_type=RSA2"#
        );
        assert_eq!(
            signed_content(&p, &["sign_type"]),
            r#"app_id=2021&biz_content={"a":"b"}&method=alipay.trade.query"#
        );
    }

    #[test]
    fn amounts_are_yuan_with_two_decimals_and_times_are_beijing() {
        assert_eq!(yuan(1), "0.01");
        assert_eq!(yuan(1250), "12.50");
        let at = DateTime::parse_from_rfc3339("2026-12-03T16:30:05Z")
            .unwrap_or_default()
            .with_timezone(&Utc);
        assert_eq!(beijing(at), "2026-12-04 00:30:05");
    }

    #[test]
    fn a_bare_base64_key_is_wrapped_as_pem() {
        let wrapped = pem("QUJD\nREVG", "PUBLIC KEY");
        assert_eq!(
            wrapped,
            "-----BEGIN PUBLIC KEY-----\nQUJDREVG\n-----END PUBLIC KEY-----\n"
        );
    }
}
