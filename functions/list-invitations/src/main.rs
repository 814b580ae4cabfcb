//! Lambda function `list-invitations`: GET /v1/me/invitations and DELETE /v1/me/licenses/{licenseId}: "My Invitations".

use seat_invitations::http::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    seat_invitations::lambda::run(Function::ListInvitations).await
}
