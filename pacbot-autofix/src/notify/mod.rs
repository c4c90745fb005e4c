//! Notifications: the [`Notifier`] trait, its sinks, and the weekly digest.
//!
//! | sink | feature | sends |
//! |---|---|---|
//! | [`MemoryNotifier`] | always | keeps messages (tests, previews) |
//! | `SmtpNotifier` | `smtp` | e-mail over SMTP (lettre, STARTTLS/TLS with rustls, or plain on loopback) |
//! | `WebhookNotifier` | `webhook` | a JSON POST of the message |

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;

pub mod digest;
#[cfg(feature = "smtp")]
mod smtp;
#[cfg(feature = "webhook")]
mod webhook;

#[cfg(feature = "smtp")]
pub use smtp::{SmtpConfig, SmtpNotifier, SmtpSecurity};
#[cfg(feature = "webhook")]
pub use webhook::WebhookNotifier;

/// What a message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// A violation will be fixed after the grace period.
    FixNotice,
    /// The grace period is running out.
    FixReminder,
    /// A fix ran (or would have, in dry-run).
    FixDone,
    /// What silent fixes did in one run.
    FixSummary,
    /// A remediation bot's result.
    BotResult,
    /// The weekly digest.
    Digest,
}

impl MessageKind {
    /// The snake-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::FixNotice => "fix_notice",
            MessageKind::FixReminder => "fix_reminder",
            MessageKind::FixDone => "fix_done",
            MessageKind::FixSummary => "fix_summary",
            MessageKind::BotResult => "bot_result",
            MessageKind::Digest => "digest",
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One notification: text for people, JSON for machines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// What it is about.
    pub kind: MessageKind,
    /// Recipients (e-mail addresses; webhooks ignore them but pass them on).
    pub to: Vec<String>,
    /// One line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// An HTML body, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// The same content as data.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub data: Value,
}

impl Message {
    /// A plain-text message.
    pub fn new(kind: MessageKind, to: Vec<String>, subject: impl Into<String>, text: impl Into<String>) -> Self {
        Self { kind, to, subject: subject.into(), text: text.into(), html: None, data: Value::Null }
    }

    /// Adds the data.
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
}

/// A place notifications go.
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// A short name for errors and logs (`smtp`, `webhook`).
    fn name(&self) -> &str;

    /// Sends one message.
    async fn send(&self, message: &Message) -> Result<()>;
}

/// Sends to every sink; returns the errors of those that failed (the
/// others still got the message).
pub async fn send_all(sinks: &[Arc<dyn Notifier>], message: &Message) -> Vec<crate::Error> {
    let mut errors = Vec::new();
    for sink in sinks {
        if let Err(e) = sink.send(message).await {
            errors.push(e);
        }
    }
    errors
}

/// Keeps every message in memory.
#[derive(Debug, Default)]
pub struct MemoryNotifier {
    sent: Mutex<Vec<Message>>,
}

impl MemoryNotifier {
    /// An empty one.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The messages sent so far.
    #[must_use]
    pub fn sent(&self) -> Vec<Message> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Takes the messages sent so far.
    #[must_use]
    pub fn take(&self) -> Vec<Message> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl Notifier for MemoryNotifier {
    fn name(&self) -> &str {
        "memory"
    }

    async fn send(&self, message: &Message) -> Result<()> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).push(message.clone());
        Ok(())
    }
}
