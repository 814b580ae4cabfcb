//! Lambda function `redeem-code`: POST /v1/redemptions: redeem an invite code for a seat.

use seat_invitations::http::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    seat_invitations::lambda::run(Function::RedeemCode).await
}
