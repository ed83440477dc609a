//! The words of each e-mail, as plain text and as HTML. Pure, so each is tested natively.

use chrono::{DateTime, Utc};
use store::mail::Message;

/// An e-mail ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Files attached (a report's PDF and CSV), added by whoever holds them.
    pub attachments: Vec<Attachment>,
}

/// A file an e-mail carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// `message` for a person of `workspace` (its display name).
pub fn render(message: &Message, workspace: &str) -> Rendered {
    match message {
        Message::Invitation {
            link,
            invited_by,
            expires_at,
        } => {
            let lead = match invited_by {
                Some(by) => format!("{by} has invited you to the {workspace} workspace"),
                None => format!("You are invited to the {workspace} workspace"),
            };
            letter(
                format!("You are invited to {workspace} on devpulse"),
                &format!(
                    "{lead} on devpulse, where your team sees what its AI coding assistants do."
                ),
                "Choose your password",
                link,
                &format!(
                    "The link works once, until {}. If you did not expect this, ignore it.",
                    when(expires_at)
                ),
            )
        }
        Message::PasswordReset {
            link,
            by_admin,
            expires_at,
        } => {
            let why = match by_admin {
                Some(admin) => {
                    format!("{admin}, an admin of {workspace}, sent you a link to set a new password.")
                }
                None => format!(
                    "Someone, hopefully you, asked to reset your password for {workspace} on devpulse."
                ),
            };
            letter(
                format!("Set a new password for {workspace}"),
                &why,
                "Choose a new password",
                link,
                &format!(
                    "The link works once, until {}; any earlier link stops working. If you did \
                     not ask for it, ignore this e-mail: your password stays as it is.",
                    when(expires_at)
                ),
            )
        }
        Message::SecondFactorChanged { change, by, at } => {
            use store::mail::SecondFactorChange as C;
            let (subject, what) = match change {
                C::Enabled => (
                    "Two-step verification is on",
                    "An authenticator app now guards your sign-in".to_string(),
                ),
                C::Disabled => (
                    "Two-step verification is off",
                    "Two-step verification was turned off for your account".to_string(),
                ),
                C::Reset => (
                    "Your two-step verification was reset",
                    match by {
                        Some(admin) => format!("{admin}, an admin of {workspace}, removed the authenticator app from your account"),
                        None => "An admin removed the authenticator app from your account".to_string(),
                    },
                ),
                C::RecoveryCodeUsed => (
                    "A recovery code was used",
                    "One of your recovery codes was used to sign in; it will not work again".to_string(),
                ),
                C::RecoveryCodesRenewed => (
                    "New recovery codes",
                    "New recovery codes were made for your account; the old ones no longer work".to_string(),
                ),
            };
            notice(
                format!("{subject} ({workspace})"),
                &format!("{what} in {workspace} on devpulse, at {}.", when(at)),
                "If this was not you, change your password now and tell an admin of your workspace: \
                 someone else may know it.",
            )
        }
        Message::Alert {
            headline,
            rule,
            firing,
            value,
            link,
            at,
        } => {
            let lead = if *firing {
                format!("{headline}. The rule \u{201c}{rule}\u{201d} in {workspace} read {value} at {}.", when(at))
            } else {
                format!("{headline}. The rule \u{201c}{rule}\u{201d} in {workspace} is back to normal ({value}) since {}.", when(at))
            };
            letter(
                format!("[{workspace}] {headline}"),
                &lead,
                "Open the alerts",
                link,
                "You get this because you chose e-mail for this rule; change that on the alerts page.",
            )
        }
        Message::Report {
            name,
            period,
            scope,
            headline,
            link,
            pdf_error,
            ..
        } => report(
            workspace,
            name,
            period,
            scope,
            headline,
            link,
            pdf_error.as_deref(),
        ),
    }
}

/// A report's e-mail: its headline numbers as a table, then what is attached.
fn report(
    workspace: &str,
    name: &str,
    period: &str,
    scope: &str,
    headline: &[store::mail::Headline],
    link: &str,
    pdf_error: Option<&str>,
) -> Rendered {
    let subject = format!("[{workspace}] {name}: {period}");
    let lead = format!("{name} for {period}, in {workspace}. {scope}.");
    let attached = match pdf_error {
        None => "The dashboard is attached as a PDF, and its numbers day by day as CSV.".to_string(),
        Some(why) => format!(
            "Its numbers day by day are attached as CSV. The PDF could not be made this time ({why})."
        ),
    };
    let note = "You get this because you are one of this report's recipients; its owner or a \
                tenant admin changes that on the reports page.";
    let width = headline
        .iter()
        .map(|h| h.label.chars().count())
        .max()
        .unwrap_or(0);
    let mut text = format!("{lead}\n\n");
    for h in headline {
        text.push_str(&format!(
            "{:width$}  {:>10}  {}\n",
            h.label,
            h.value,
            h.change,
            width = width
        ));
    }
    text.push_str(&format!(
        "\n{attached}\n\nOpen the reports:\n{link}\n\n{note}\n\n-- \ndevpulse\n"
    ));
    let rows: String = headline
        .iter()
        .map(|h| {
            format!(
                "<tr><th scope=\"row\" style=\"text-align:left;font-weight:normal;padding:.2rem .8rem .2rem 0\">{}</th>\
                 <td style=\"text-align:right;font-weight:600;padding:.2rem .8rem\">{}</td>\
                 <td style=\"color:#555;font-size:.9em\">{}</td></tr>",
                escape(&h.label),
                escape(&h.value),
                escape(&h.change)
            )
        })
        .collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"color-scheme\" content=\"light dark\"><title>{subject}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;line-height:1.5;max-width:36rem;margin:auto;padding:1rem\">\
         <p>{lead}</p><table style=\"border-collapse:collapse\">{rows}</table>\
         <p>{attached}</p>\
         <p><a href=\"{link}\" style=\"display:inline-block;padding:.6rem 1rem;border-radius:6px;\
         background:#2457d6;color:#fff;text-decoration:none\">Open the reports</a></p>\
         <p style=\"font-size:.9em;color:#555\">{note}</p></body></html>",
        subject = escape(&subject),
        lead = escape(&lead),
        attached = escape(&attached),
        link = escape(link),
        note = escape(note),
    );
    Rendered {
        subject,
        text,
        html,
        attachments: Vec::new(),
    }
}

fn when(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// One paragraph, one button, one note: every message so far has this shape.
fn letter(subject: String, lead: &str, action: &str, link: &str, note: &str) -> Rendered {
    let text = format!("{lead}\n\n{action}:\n{link}\n\n{note}\n\n-- \ndevpulse\n");
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"color-scheme\" content=\"light dark\"><title>{subject}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;line-height:1.5;max-width:36rem;margin:auto;padding:1rem\">\
         <p>{lead}</p>\
         <p><a href=\"{link}\" style=\"display:inline-block;padding:.6rem 1rem;border-radius:6px;\
         background:#2457d6;color:#fff;text-decoration:none\">{action}</a></p>\
         <p style=\"font-size:.9em\">Or open this address: <a href=\"{link}\">{link}</a></p>\
         <p style=\"font-size:.9em;color:#555\">{note}</p></body></html>",
        subject = escape(&subject),
        lead = escape(lead),
        action = escape(action),
        link = escape(link),
        note = escape(note),
    );
    Rendered {
        subject,
        text,
        html,
        attachments: Vec::new(),
    }
}

/// A notice without a button: what happened, and what to do if it was not them.
fn notice(subject: String, lead: &str, note: &str) -> Rendered {
    let text = format!("{lead}\n\n{note}\n\n-- \ndevpulse\n");
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"color-scheme\" content=\"light dark\"><title>{subject}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;line-height:1.5;max-width:36rem;margin:auto;padding:1rem\">\
         <p>{lead}</p><p style=\"font-size:.9em;color:#555\">{note}</p></body></html>",
        subject = escape(&subject),
        lead = escape(lead),
        note = escape(note),
    );
    Rendered {
        subject,
        text,
        html,
        attachments: Vec::new(),
    }
}

/// Text made inert in HTML, attributes included (the print view uses it too).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-12-07T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn an_invitation_names_the_workspace_the_inviter_and_the_link_in_both_parts() {
        let r = render(
            &Message::Invitation {
                link: "https://pulse.example/welcome?token=acme.abc".into(),
                invited_by: Some("ada@acme.test".into()),
                expires_at: at(),
            },
            "Acme",
        );
        assert_eq!(r.subject, "You are invited to Acme on devpulse");
        for part in [&r.text, &r.html] {
            assert!(part.contains("ada@acme.test has invited you"), "{part}");
            assert!(part.contains("https://pulse.example/welcome?token=acme.abc"));
            assert!(part.contains("2026-12-07 10:00 UTC"));
        }
    }

    #[test]
    fn an_invitation_without_an_inviter_reads_well() {
        let r = render(
            &Message::Invitation {
                link: "l".into(),
                invited_by: None,
                expires_at: at(),
            },
            "Acme",
        );
        assert!(
            r.text
                .starts_with("You are invited to the Acme workspace on devpulse"),
            "{}",
            r.text
        );
    }

    #[test]
    fn a_reset_says_who_asked() {
        let by_admin = render(
            &Message::PasswordReset {
                link: "l".into(),
                by_admin: Some("root@acme.test".into()),
                expires_at: at(),
            },
            "Acme",
        );
        assert!(by_admin.text.contains("root@acme.test, an admin of Acme"));
        let own = render(
            &Message::PasswordReset {
                link: "l".into(),
                by_admin: None,
                expires_at: at(),
            },
            "Acme",
        );
        assert!(own.text.contains("hopefully you"));
        assert_eq!(own.subject, "Set a new password for Acme");
    }

    #[test]
    fn a_second_factor_change_says_what_when_who_and_what_to_do() {
        let reset = render(
            &Message::SecondFactorChanged {
                change: store::mail::SecondFactorChange::Reset,
                by: Some("admin@acme.test".into()),
                at: at(),
            },
            "Acme",
        );
        assert_eq!(reset.subject, "Your two-step verification was reset (Acme)");
        for part in [&reset.text, &reset.html] {
            assert!(
                part.contains("admin@acme.test, an admin of Acme, removed"),
                "{part}"
            );
            assert!(part.contains("2026-12-07 10:00 UTC"), "{part}");
            assert!(part.contains("If this was not you"), "{part}");
        }
        let used = render(
            &Message::SecondFactorChanged {
                change: store::mail::SecondFactorChange::RecoveryCodeUsed,
                by: None,
                at: at(),
            },
            "Acme",
        );
        assert!(used
            .text
            .starts_with("One of your recovery codes was used to sign in"));
    }

    #[test]
    fn an_alert_says_what_fired_with_its_numbers() {
        let r = render(
            &Message::Alert {
                headline: "Platform spend fired: $212.50 (threshold $200.00)".into(),
                rule: "Cost above $200.00 over 1 d".into(),
                firing: true,
                value: "$212.50".into(),
                link: "https://devpulse.test/alerts".into(),
                at: at(),
            },
            "Acme",
        );
        assert_eq!(
            r.subject,
            "[Acme] Platform spend fired: $212.50 (threshold $200.00)"
        );
        assert!(r.text.contains("Cost above $200.00 over 1 d"), "{}", r.text);
        assert!(r.text.contains("2026-12-07 10:00 UTC"));
        assert!(r.html.contains("https://devpulse.test/alerts"));
    }

    #[test]
    fn html_escapes_what_people_typed() {
        let r = render(
            &Message::Invitation {
                link: "https://x/welcome?token=a.b&c=<d>".into(),
                invited_by: Some("<script>alert(1)</script>".into()),
                expires_at: at(),
            },
            "Tom & Jerry's",
        );
        assert!(!r.html.contains("<script>"));
        assert!(r.html.contains("&lt;script&gt;"));
        assert!(r.html.contains("Tom &amp; Jerry&#39;s"));
        assert!(r.html.contains("token=a.b&amp;c=&lt;d&gt;"));
        // The text part is not HTML and keeps the characters.
        assert!(r.text.contains("Tom & Jerry's"));
    }

    #[test]
    fn a_report_leads_with_its_numbers_and_says_what_is_attached() {
        let headline = vec![store::mail::Headline {
            label: "Cost".into(),
            value: "$5.00".into(),
            change: "+25.0% vs the week before".into(),
        }];
        let m = |pdf_error: Option<String>| Message::Report {
            name: "Weekly <digest>".into(),
            period: "Nov 30 – Dec 6, 2026".into(),
            scope: "Team Platform".into(),
            headline: headline.clone(),
            link: "https://devpulse.test/reports".into(),
            run: uuid::Uuid::nil(),
            pdf_error,
        };
        let r = render(&m(None), "Acme");
        assert_eq!(r.subject, "[Acme] Weekly <digest>: Nov 30 – Dec 6, 2026");
        assert!(
            r.text
                .contains("Cost       $5.00  +25.0% vs the week before"),
            "{}",
            r.text
        );
        assert!(r.text.contains("attached as a PDF"));
        assert!(r.html.contains("Weekly &lt;digest&gt;"));
        assert!(r.attachments.is_empty(), "the sender attaches the files");
        let r = render(&m(Some("no Chromium".into())), "Acme");
        assert!(
            r.text.contains("could not be made this time (no Chromium)"),
            "{}",
            r.text
        );
    }
}
