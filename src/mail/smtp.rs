//! Sending one mail: through lettre's async SMTP transport (rustls; STARTTLS
//! required for `smtp://` unless the host is loopback or `?tls=none`, TLS from
//! the first byte for `smtps://`), or, in test mode without an SMTP URL,
//! nowhere: the outbox row is the captured mail.

use std::time::{Duration, SystemTime};

use lettre::Address;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::OpenedMail;
use crate::config::{SmtpTls, SmtpUrl};

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where mails go.
#[derive(Clone)]
pub enum Transport {
    /// An SMTP server.
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>),
    /// Nowhere: test mode keeps them in the outbox for `/test/mailbox`.
    Captured,
}

/// Why a mail was not sent: the SMTP error's text (it names no password).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

impl Transport {
    /// The transport of `url` (`None`: captured). Fails when TLS cannot be
    /// set up for the host.
    pub fn new(url: Option<&SmtpUrl>) -> Result<Self, SendError> {
        let Some(url) = url else {
            return Ok(Self::Captured);
        };
        let parameters = || {
            TlsParameters::new(url.host.clone())
                .map_err(|e| SendError(format!("cannot set up TLS for {}: {e}", url.host)))
        };
        let tls = match url.tls {
            SmtpTls::Implicit => Tls::Wrapper(parameters()?),
            SmtpTls::StartTls => Tls::Required(parameters()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
            .port(url.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if let Some((user, password)) = &url.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self::Smtp(Box::new(builder.build())))
    }

    /// Sends `mail` from `from`.
    pub async fn send(&self, mail: &OpenedMail, from: &str) -> Result<(), SendError> {
        let transport = match self {
            Self::Smtp(transport) => transport,
            Self::Captured => return Ok(()),
        };
        let message = message(mail, from)?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| SendError(e.to_string()))
    }
}

/// The MIME message of `mail`: `From`, `To`, `Subject`, `Date`,
/// `Message-ID`, and text and HTML alternatives.
pub fn message(mail: &OpenedMail, from: &str) -> Result<Message, SendError> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| SendError(format!("bad From address: {e}")))?;
    // The bare address, never `Name <addr>` syntax: the mail goes to exactly
    // the stored address.
    let to = Mailbox::new(
        None,
        mail.row
            .recipient
            .parse::<Address>()
            .map_err(|e| SendError(format!("bad recipient address: {e}")))?,
    );
    Message::builder()
        .from(from)
        .to(to)
        .subject(mail.row.subject.clone())
        .date(SystemTime::now())
        .message_id(Some(mail.row.message_id.clone()))
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| SendError(format!("cannot build the message: {e}")))
}
