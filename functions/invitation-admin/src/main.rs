//! Lambda function `invitation-admin`: admin routes for email invitations and open links (/v1/licenses/{licenseId}/invitations…).

use seat_invitations::http::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    seat_invitations::lambda::run(Function::InvitationAdmin).await
}
