//! Function `redeem-code`: POST /v1/redemptions.

use lambda_http::Request;
use serde::Deserialize;

use crate::App;
use crate::domain::Caller;
use crate::error::ApiError;
use crate::http::extract::json_body;
use crate::http::response::{Reply, claimed, error_response_with_license};
use crate::service::{Refusal, redeem};

#[derive(Deserialize)]
struct RedeemBody {
    code: String,
}

pub(super) async fn redeem(app: &App, caller: &Caller, req: &Request) -> Reply {
    let body: RedeemBody = json_body(req)?;
    match redeem::redeem_explained(app, caller, &body.code).await {
        Ok(seat) => claimed(&seat),
        // Where the owner can help, the page may offer to write to them.
        Err(Refusal {
            error:
                error @ (ApiError::CodeUsedUp | ApiError::NoSeatsAvailable | ApiError::LicenseExpired),
            license: Some(license),
        }) => Ok(error_response_with_license(&error, &license)),
        Err(refusal) => Err(refusal.error),
    }
}
