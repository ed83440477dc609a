//! Delivering e-mail: over SMTP when `DEVPULSE_SMTP_URL` is set, otherwise into an outbox
//! directory (one `.eml` file per message) so that `make run` works offline and a developer
//! can read what would have been sent. Messages are queued by the store and delivered by the
//! `email.send` job (see [`crate::jobs`]).

pub mod templates;

use std::path::PathBuf;

use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
};

pub use templates::{render, Attachment, Rendered};

/// Where e-mail goes.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
    /// Production without an SMTP server: password links are never written to disk in
    /// clear, so each e-mail fails, visibly, and admins hand the links on themselves.
    Off,
}

/// Why a message did not go out; `permanent` when sending it again cannot help (the server
/// refused the address or the message).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

impl Mailer {
    /// From the configuration: `smtp_url` (lettre's URL form), else the outbox under
    /// `data_dir` outside production, else nothing.
    pub fn new(
        smtp_url: Option<&str>,
        from: &str,
        data_dir: &std::path::Path,
        production: bool,
    ) -> Result<Mailer, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("DEVPULSE_MAIL_FROM: {e}"))?;
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("DEVPULSE_SMTP_URL: {e}"))?
                    .timeout(Some(std::time::Duration::from_secs(30)))
                    .build(),
            ),
            None if production => Transport::Off,
            None => Transport::Outbox(data_dir.join("outbox")),
        };
        Ok(Mailer { from, transport })
    }

    /// The outbox directory, when there is no SMTP server.
    pub fn outbox(&self) -> Option<&std::path::Path> {
        match &self.transport {
            Transport::Outbox(dir) => Some(dir),
            Transport::Smtp(_) | Transport::Off => None,
        }
    }

    /// Whether e-mail can go anywhere at all.
    pub fn is_off(&self) -> bool {
        matches!(self.transport, Transport::Off)
    }

    /// Sends `mail` to `to`; returns how it went out (`smtp`, or the outbox file).
    pub async fn send(
        &self,
        id: uuid::Uuid,
        to: &str,
        mail: &Rendered,
    ) -> Result<String, SendError> {
        let to: Mailbox = to.parse().map_err(|e| SendError {
            message: format!("the address {to:?} cannot be sent to: {e}"),
            permanent: true,
        })?;
        let words = MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(mail.text.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(mail.html.clone()),
            );
        let body = if mail.attachments.is_empty() {
            words
        } else {
            let mut mixed = MultiPart::mixed().multipart(words);
            for a in &mail.attachments {
                let kind = ContentType::parse(&a.content_type).map_err(|e| SendError {
                    message: format!("the attachment {}: {e}", a.name),
                    permanent: true,
                })?;
                mixed = mixed.singlepart(
                    lettre::message::Attachment::new(a.name.clone()).body(a.bytes.clone(), kind),
                );
            }
            mixed
        };
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .multipart(body)
            .map_err(|e| SendError {
                message: format!("the message cannot be built: {e}"),
                permanent: true,
            })?;
        match &self.transport {
            Transport::Off => Err(SendError {
                message: "no SMTP server is configured (DEVPULSE_SMTP_URL)".into(),
                permanent: true,
            }),
            Transport::Smtp(smtp) => {
                smtp.send(message).await.map_err(|e| SendError {
                    permanent: e.is_permanent(),
                    message: format!("SMTP: {e}"),
                })?;
                Ok("smtp".into())
            }
            Transport::Outbox(dir) => {
                let name = format!("{}-{id}.eml", chrono::Utc::now().format("%Y%m%dT%H%M%S"));
                write_atomically(dir, &name, &message.formatted())
                    .await
                    .map_err(|e| SendError {
                        message: format!("the outbox {}: {e}", dir.display()),
                        permanent: false,
                    })?;
                Ok(format!("outbox:{name}"))
            }
        }
    }
}

/// Writes `name` under `dir` so that a reader never sees half a message.
async fn write_atomically(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let partial = dir.join(format!(".{name}.partial"));
    tokio::fs::write(&partial, bytes).await?;
    tokio::fs::rename(&partial, dir.join(name)).await
}
