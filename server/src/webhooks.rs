//! Posting alerts to webhooks (the webhooks themselves are `store::webhooks`): the body in the
//! webhook's format, signed with HMAC-SHA256 over `"{timestamp}.{body}"` with the webhook's
//! secret, posted by the job runner, each attempt recorded, retried with back-off while the
//! receiver fails (a 4xx other than 408 and 429 is the request's fault and is not retried).

use chrono::{TimeDelta, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use store::webhooks::{Delivery, Format};
use types::alerts::{Event, Metric, State};
use uuid::Uuid;

use crate::jobs::{Context, Failure};

/// The signature of `body` sent at `timestamp` (seconds since the Unix epoch), as the
/// signature header carries it: `sha256=<hex>`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before attempt `attempt + 1`: 5 s, 10 s, 20 s… at most an hour.
pub fn backoff(attempt: i32) -> TimeDelta {
    let secs = 5i64.saturating_mul(1 << attempt.clamp(1, 12).saturating_sub(1));
    TimeDelta::seconds(secs.min(3600))
}

/// What a message says about one alert event.
pub struct Message<'a> {
    pub workspace: &'a str,
    pub event: &'a Event,
    /// The rule in words.
    pub rule: &'a str,
    /// The alerts page.
    pub link: &'a str,
    pub test: bool,
}

/// The body in `format`.
pub fn body(format: Format, m: &Message<'_>) -> Value {
    let headline = if m.test {
        "A test from devpulse: this webhook works".to_string()
    } else {
        m.event.headline()
    };
    let firing = m.event.state == State::Firing;
    match format {
        Format::Json => json!({
            "type": if m.test { "test" } else { "alert" },
            "workspace": m.workspace,
            "headline": headline,
            "rule": m.rule,
            "event": m.event,
            "link": m.link,
        }),
        Format::Slack => json!({
            "text": escape_slack(&format!("[{}] {headline}", m.workspace)),
            "blocks": [
                { "type": "section", "text": { "type": "mrkdwn",
                  "text": format!("*{}*\n{}\n<{}|Open the alerts>", escape_slack(&headline),
                                  escape_slack(m.rule), m.link) } },
                { "type": "context", "elements": [ { "type": "mrkdwn",
                  "text": format!("{} · {}", escape_slack(m.workspace),
                                  m.event.at.format("%Y-%m-%d %H:%M UTC")) } ] }
            ]
        }),
        Format::Teams => json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": escape_markdown(&headline),
            "themeColor": if firing { "D93F0B" } else { "2EB67D" },
            "title": escape_markdown(&format!("[{}] {headline}", m.workspace)),
            "text": escape_markdown(m.rule),
            "potentialAction": [{
                "@type": "OpenUri",
                "name": "Open the alerts",
                "targets": [{ "os": "default", "uri": m.link }]
            }]
        }),
    }
}

/// Slack's mrkdwn reads `&`, `<` and `>` as markup.
fn escape_slack(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Teams reads markdown (and some HTML) in a card's text: what people typed (a rule's name, a
/// workspace's) is shown as typed, never as a link or a mention.
fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '`' | '~' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The event a "send test" delivers.
fn test_event() -> Event {
    Event {
        id: Uuid::nil(),
        rule_id: types::AlertRuleId(Uuid::nil()),
        rule_name: "Test".into(),
        state: State::Firing,
        value: 0.0,
        threshold: 0.0,
        metric: Metric::CostUsd,
        at: Utc::now(),
    }
}

/// The job: posts one event (or a test) to one webhook and records the attempt.
pub async fn deliver(cx: &Context, job: &store::jobs::Claimed) -> Result<(), Failure> {
    let permanent = |message: String| Failure {
        message,
        permanent: true,
        retry_in: None,
    };
    let tenant = job
        .tenant
        .ok_or_else(|| permanent("a webhook delivery without a workspace".into()))?;
    let id = |field: &str| {
        job.payload
            .get(field)
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
    };
    let webhook = id("webhook").ok_or_else(|| permanent("no webhook in the job".into()))?;
    let event_id = id("event");
    let tenant = store::tenants::find_by_id(cx.store.pool(), tenant).await?;
    let mut tx = cx.store.tenant_tx(tenant.scope()).await?;
    let Some(target) = store::webhooks::target(&mut tx, &cx.sealer, webhook).await? else {
        // Deleted since: nothing to do.
        return Ok(());
    };
    if !target.enabled {
        return Ok(());
    }
    let told = match event_id {
        Some(e) => match store::webhooks::event(&mut tx, e).await? {
            Some(t) => Some(t),
            None => return Ok(()),
        },
        None => None,
    };
    tx.commit().await?;
    let test = told.is_none();
    let (event, rule) = match told {
        Some(t) => (t.event, t.rule),
        None => (
            test_event(),
            "A test delivery, sent from the alerts page".to_string(),
        ),
    };
    let body = body(
        target.format,
        &Message {
            workspace: &tenant.name,
            event: &event,
            rule: &rule,
            link: &cx.alerts.link,
            test,
        },
    )
    .to_string();
    let at = Utc::now();
    let started = std::time::Instant::now();
    let attempt = match reqwest::Url::parse(&target.url)
        .map_err(|e| e.to_string())
        .and_then(|u| cx.outbound.check(&u).map(|()| u))
    {
        // An address that may not be reached stays so: no retry.
        Err(why) => Attempt::failed(None, format!("the address {why}"), false),
        Ok(url) => {
            let timestamp = at.timestamp();
            let sent = cx
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::USER_AGENT, "devpulse-webhooks/1")
                .header(types::webhooks::TIMESTAMP_HEADER, timestamp.to_string())
                .header(
                    types::webhooks::SIGNATURE_HEADER,
                    sign(&target.secret, timestamp, &body),
                )
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => Attempt {
                    status: Some(i32::from(r.status().as_u16())),
                    error: None,
                    retry: false,
                },
                Ok(r) => {
                    let s = r.status().as_u16();
                    let retry = !(400..500).contains(&s) || s == 408 || s == 429;
                    Attempt::failed(Some(s), format!("the receiver answered {s}"), retry)
                }
                // Without the address: a webhook's address is its secret (Slack's, Teams'),
                // and this text reaches logs and the console.
                Err(e) => Attempt::failed(None, error_chain(&e.without_url()), true),
            }
        }
    };
    let delivery = Delivery {
        id: Uuid::new_v4(),
        webhook_id: webhook,
        event_id,
        test,
        attempt: job.attempt,
        status: attempt.status,
        error: attempt.error.clone(),
        duration_ms: started.elapsed().as_millis().min(i32::MAX as u128) as i32,
        at,
    };
    let mut tx = cx.store.tenant_tx(tenant.scope()).await?;
    store::webhooks::record(&mut tx, &delivery).await?;
    tx.commit().await?;
    match attempt.error {
        None => Ok(()),
        Some(message) => Err(Failure {
            message,
            permanent: !attempt.retry,
            retry_in: Some(backoff(job.attempt)),
        }),
    }
}

/// How one attempt went.
struct Attempt {
    status: Option<i32>,
    error: Option<String>,
    retry: bool,
}

impl Attempt {
    fn failed(status: Option<u16>, error: String, retry: bool) -> Attempt {
        Attempt {
            status: status.map(i32::from),
            error: Some(error),
            retry,
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            id: Uuid::nil(),
            rule_id: types::AlertRuleId(Uuid::nil()),
            rule_name: "Platform <spend>".into(),
            state: State::Firing,
            value: 212.5,
            threshold: 200.0,
            metric: Metric::CostUsd,
            at: "2026-12-07T10:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_timestamp_and_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            sign("whsec_test", 1_700_000_000, r#"{"a":1}"#),
            "sha256=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn each_format_says_what_fired() {
        let e = event();
        let m = Message {
            workspace: "Acme",
            event: &e,
            rule: "Cost above $200.00 over 1 d",
            link: "https://devpulse.test/alerts",
            test: false,
        };
        let j = body(Format::Json, &m);
        assert_eq!(j["type"], "alert");
        assert_eq!(j["event"]["value"], 212.5);
        assert_eq!(
            j["headline"],
            "Platform <spend> fired: $212.50 (threshold $200.00)"
        );
        let s = body(Format::Slack, &m);
        assert_eq!(
            s["text"],
            "[Acme] Platform &lt;spend&gt; fired: $212.50 (threshold $200.00)"
        );
        let block = s["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(
            block.starts_with("*Platform &lt;spend&gt; fired"),
            "{block}"
        );
        assert!(
            block.ends_with("<https://devpulse.test/alerts|Open the alerts>"),
            "{block}"
        );
        let t = body(Format::Teams, &m);
        assert_eq!(t["@type"], "MessageCard");
        assert_eq!(
            t["title"],
            "\\[Acme\\] Platform &lt;spend&gt; fired: $212.50 \\(threshold $200.00\\)"
        );
        assert_eq!(t["themeColor"], "D93F0B");
        assert_eq!(
            t["potentialAction"][0]["targets"][0]["uri"],
            "https://devpulse.test/alerts"
        );
        let test = body(Format::Json, &Message { test: true, ..m });
        assert_eq!(test["type"], "test");
    }

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(backoff(1), TimeDelta::seconds(5));
        assert_eq!(backoff(2), TimeDelta::seconds(10));
        assert_eq!(backoff(3), TimeDelta::seconds(20));
        assert_eq!(backoff(20), TimeDelta::seconds(3600));
    }
}
