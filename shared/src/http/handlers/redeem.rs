//! Function `redeem-code`: POST /v1/redemptions.

use lambda_http::Request;
use serde::Deserialize;

use crate::App;
use crate::domain::Caller;
use crate::error::ApiError;
use crate::http::extract::json_body;
use crate::http::response::{Reply, claimed, error_response, error_response_with_license};
use crate::service::redeem;

#[derive(Deserialize)]
struct RedeemBody {
    code: String,
}

pub(super) async fn redeem(app: &App, caller: &Caller, req: &Request) -> Reply {
    let body: RedeemBody = json_body(req)?;
    match redeem::redeem(app, caller, &body.code).await {
        Ok(seat) => claimed(&seat),
        // Where the owner can help, the page may offer to write to them.
        Err(
            err @ (ApiError::CodeUsedUp | ApiError::NoSeatsAvailable | ApiError::LicenseExpired),
        ) => Ok(match redeem::license_of_code(app, &body.code).await {
            Some(license) => error_response_with_license(&err, &license),
            None => error_response(&err),
        }),
        Err(err) => Err(err),
    }
}
