//! E-mail over SMTP with lettre (tokio, rustls).

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use super::{Message, Notifier};
use crate::error::{Error, Result};

/// How the connection to the SMTP server is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required), port 587 by default.
    #[default]
    StartTls,
    /// TLS from the first byte, port 465 by default.
    Tls,
    /// No encryption: allowed only to a loopback server (a local relay or a test server).
    None,
}

/// Where and how to send e-mail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The server's host name.
    pub host: String,
    /// The port; the security's usual port when absent.
    #[serde(default)]
    pub port: Option<u16>,
    /// How the connection is secured.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// The user name, when the server wants a login.
    #[serde(default)]
    pub username: Option<String>,
    /// The password.
    #[serde(default)]
    pub password: Option<String>,
    /// The sender (`pacbot <pacbot@example.com>`).
    pub from: String,
}

/// Sends messages as e-mail (plain text, or text and HTML alternatives).
#[derive(Debug, Clone)]
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl SmtpNotifier {
    /// Checks the configuration and prepares the transport (connects on send).
    pub fn new(config: &SmtpConfig) -> Result<Self> {
        let invalid = |path: &str, reason: String| Error::InvalidConfig { path: format!("smtp.{path}"), reason };
        let from: Mailbox = config.from.parse().map_err(|e| invalid("from", format!("`{}`: {e}", config.from)))?;
        if config.host.trim().is_empty() {
            return Err(invalid("host", "the host is empty".to_owned()));
        }
        let tls_error = |e: lettre::transport::smtp::Error| invalid("host", format!("`{}`: {e}", config.host));
        let mut builder = match config.security {
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host).map_err(tls_error)?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(tls_error)?,
            SmtpSecurity::None if is_loopback(&config.host) => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            }
            SmtpSecurity::None => {
                return Err(invalid(
                    "security",
                    format!("an unencrypted connection is only allowed to a loopback server, not `{}`", config.host),
                ));
            }
        };
        if let Some(port) = config.port {
            builder = builder.port(port);
        }
        match (&config.username, &config.password) {
            (Some(u), Some(p)) => builder = builder.credentials(Credentials::new(u.clone(), p.clone())),
            (None, None) => {}
            _ => return Err(invalid("username", "give both a user name and a password, or neither".to_owned())),
        }
        Ok(Self { transport: builder.build(), from })
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    fn name(&self) -> &str {
        "smtp"
    }

    async fn send(&self, message: &Message) -> Result<()> {
        let fail = |m: String, retryable: bool| Error::Notify { notifier: "smtp".to_owned(), message: m, retryable };
        if message.to.is_empty() {
            return Err(fail(format!("no recipients for `{}`", message.subject), false));
        }
        let mut builder = lettre::Message::builder().from(self.from.clone()).subject(message.subject.clone());
        for to in &message.to {
            let mailbox: Mailbox = to.parse().map_err(|e| fail(format!("recipient `{to}`: {e}"), false))?;
            builder = builder.to(mailbox);
        }
        let email = match &message.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(message.text.clone(), html.clone())),
            None => builder.header(ContentType::TEXT_PLAIN).body(message.text.clone()),
        }
        .map_err(|e| fail(format!("building the e-mail: {e}"), false))?;
        self.transport.send(email).await.map_err(|e| fail(e.to_string(), e.is_transient() || e.is_timeout()))?;
        Ok(())
    }
}
