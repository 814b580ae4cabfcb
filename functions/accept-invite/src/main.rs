//! Lambda function `accept-invite`: GET /v1/invites/{token}, POST …/accept and …/decline: invite URLs.

use shared::http::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(Function::AcceptInvite).await
}
