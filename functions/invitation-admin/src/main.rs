//! Lambda function `invitation-admin`: admin routes for email invitations and open links (/v1/licenses/{licenseId}/invitations…).

use shared::http::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(Function::InvitationAdmin).await
}
