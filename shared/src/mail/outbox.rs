//! Keeps every email in memory instead of sending it (`GET /_dev/outbox`),
//! and, with `OUTBOX_FILE`, appends each as one JSON line to that file, so
//! mail is readable in local loops that have no devserver (`cargo lambda
//! watch`: one process per function).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Mailer, OutgoingEmail};
use crate::domain::random_id;
use crate::error::MailError;

#[derive(Default)]
pub struct Outbox {
    messages: Mutex<Vec<OutgoingEmail>>,
    file: Option<PathBuf>,
}

impl Outbox {
    /// An outbox that also appends every email to `path` (JSON lines).
    pub fn with_file(path: impl Into<PathBuf>) -> Self {
        Self {
            messages: Mutex::default(),
            file: Some(path.into()),
        }
    }

    pub fn messages(&self) -> Vec<OutgoingEmail> {
        self.messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, MailError> {
        self.messages
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(email.clone());
        if let Some(path) = &self.file {
            let line =
                serde_json::to_string(email).map_err(|e| MailError::internal("OUTBOX_FILE", e))?;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{line}"))
                .map_err(|e| MailError::internal("OUTBOX_FILE", e))?;
        }
        Ok(random_id("msg"))
    }
}
