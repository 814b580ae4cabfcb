//! Function `contact-owner`: POST /v1/licenses/{licenseId}/contact-owner.

use http::StatusCode;
use lambda_http::Request;
use serde::Deserialize;

use crate::App;
use crate::domain::{Caller, LicenseId};
use crate::http::extract::json_body;
use crate::http::response::{MessageIdBody, Reply, json};
use crate::service::contact;

#[derive(Deserialize)]
struct ContactBody {
    subject: String,
    message: String,
    /// A code of the license, from someone who could not join.
    #[serde(default)]
    code: Option<String>,
}

pub(super) async fn contact_owner(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
    req: &Request,
) -> Reply {
    let body: ContactBody = json_body(req)?;
    let message_id = contact::contact_owner(
        app,
        caller,
        license_id,
        &body.subject,
        &body.message,
        body.code.as_deref(),
    )
    .await?;
    json(
        StatusCode::ACCEPTED,
        &MessageIdBody {
            message_id: &message_id,
        },
    )
}
