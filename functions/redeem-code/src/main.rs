//! Lambda function `redeem-code`: POST /v1/redemptions: redeem an invite code for a seat.

use shared::http::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(Function::RedeemCode).await
}
