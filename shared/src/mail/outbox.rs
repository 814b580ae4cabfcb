//! Keeps every email in memory instead of sending it (`GET /_dev/outbox`).

use std::sync::Mutex;

use async_trait::async_trait;

use super::{Mailer, OutgoingEmail};
use crate::domain::random_id;
use crate::error::MailError;

#[derive(Default)]
pub struct Outbox {
    messages: Mutex<Vec<OutgoingEmail>>,
}

impl Outbox {
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
        Ok(random_id("msg"))
    }
}
