//! The email sink (lettre over SMTP): STARTTLS or implicit TLS, required unless the
//! config says `tls = "none"` (a local relay); optional authentication; several
//! recipients; one email per alert, or a digest of several low-severity ones.
//!
//! The alert id is the `Message-ID` (and an `X-Kvwatch-Alert-Id` header), so a
//! redelivered email is recognisably the same message. SMTP `5xx` answers are
//! permanent (dead-lettered at once); `4xx`, timeouts and connection failures retry.

use futures::future::BoxFuture;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::render::{clip, email as render, inert};
use super::secret::{resolve, Redactor};
use super::transport::{AttemptError, BuildError, Job, Transport, TransportOptions};
use crate::alert::Alert;
use crate::config::delivery::{EmailSettings, EmailTls};
use crate::config::SinkKind;

/// Sends alerts by SMTP.
pub struct EmailTransport {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    prefix: String,
    redactor: Redactor,
}

/// The `X-Kvwatch-Alert-Id` header: the alert id (or the ids of a digest).
#[derive(Debug, Clone)]
pub struct AlertIdHeader(pub String);

impl Header for AlertIdHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Kvwatch-Alert-Id")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AlertIdHeader(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

impl EmailTransport {
    /// Builds the SMTP client (reading the password and the CA file).
    pub fn new(
        s: &EmailSettings,
        key: &dyn Fn(&str) -> String,
        opts: TransportOptions,
    ) -> Result<Self, BuildError> {
        let invalid = |k: &str, message: String| BuildError::Invalid {
            key: key(k),
            message,
        };
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|e| invalid("from", format!("not an address: {e}")))?;
        let to =
            s.to.iter()
                .map(|t| {
                    t.parse::<Mailbox>()
                        .map_err(|e| invalid("to", format!("{t:?} is not an address: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
            .port(s.effective_port())
            .timeout(Some(opts.timeout));
        if s.tls != EmailTls::None {
            let mut params = TlsParameters::builder(s.host.clone());
            if let Some(ca) = &s.ca_file {
                let pem = std::fs::read(ca).map_err(|e| {
                    invalid("ca_file", format!("cannot read {}: {e}", ca.display()))
                })?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| invalid("ca_file", format!("not PEM certificates: {e}")))?;
                params = params
                    .certificate_store(CertificateStore::None)
                    .add_root_certificate(cert);
            }
            let params = params
                .build()
                .map_err(|e| invalid("tls", format!("cannot set up TLS: {e}")))?;
            builder = builder.tls(if s.tls == EmailTls::Implicit {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            });
        }
        let mut redactor = Redactor::new();
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            let password = resolve(password, &key("password"))?;
            redactor.add(&password);
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(EmailTransport {
            transport: builder.build(),
            from,
            to,
            prefix: s.subject_prefix.clone(),
            redactor,
        })
    }

    fn message(
        &self,
        subject: String,
        id: &str,
        ids: String,
        text: String,
        html: String,
    ) -> Result<Message, AttemptError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(format!("<{}@kvwatch>", message_id_part(id))))
            .header(AlertIdHeader(clip(&inert(&ids), 900)))
            .user_agent(concat!("kvwatch/", env!("CARGO_PKG_VERSION")).to_owned())
            .date_now();
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| AttemptError::permanent(format!("cannot build the email: {e}")))
    }
}

/// The alert id as a `Message-ID` left part: only characters RFC 5322 allows there.
fn message_id_part(id: &str) -> String {
    let clean: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-._".contains(*c))
        .take(120)
        .collect();
    if clean.is_empty() {
        "alert".into()
    } else {
        clean
    }
}

fn smtp_error(e: &lettre::transport::smtp::Error) -> AttemptError {
    let message = clip(&inert(&e.to_string()), 400);
    if e.is_permanent() {
        AttemptError::permanent(format!("mail server refused: {message}"))
    } else if e.is_timeout() {
        AttemptError::retryable(format!("timed out: {message}"))
    } else {
        AttemptError::retryable(message)
    }
}

impl Transport for EmailTransport {
    fn kind(&self) -> SinkKind {
        SinkKind::Email
    }

    fn digests(&self) -> bool {
        true
    }

    fn send<'a>(&'a self, job: Job<'a>) -> BoxFuture<'a, Result<(), AttemptError>> {
        Box::pin(async move {
            let message = match job {
                Job::One(alert) => self.message(
                    render::subject(alert, &self.prefix),
                    &alert.id,
                    alert.id.clone(),
                    render::text(alert),
                    render::html_body(alert),
                )?,
                Job::Digest(alerts) => {
                    let ids: Vec<&str> = alerts.iter().map(|a: &Alert| a.id.as_str()).collect();
                    let digest_id = format!(
                        "digest-{:016x}",
                        xxhash_rust::xxh3::xxh3_64(ids.join(",").as_bytes())
                    );
                    self.message(
                        render::digest_subject(alerts, &self.prefix),
                        &digest_id,
                        ids.join(" "),
                        render::digest_text(alerts),
                        render::digest_html(alerts),
                    )?
                }
            };
            self.transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| smtp_error(&e))
        })
    }

    fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}
