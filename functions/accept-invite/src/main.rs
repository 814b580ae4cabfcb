//! Lambda function `accept-invite`: GET /v1/invites/{token}, POST …/accept and …/decline: invite URLs.

use seat_invitations::http::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    seat_invitations::lambda::run(Function::AcceptInvite).await
}
