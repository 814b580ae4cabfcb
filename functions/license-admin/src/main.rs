//! Lambda function `license-admin`: admin routes for licenses, codes, seats and the audit trail (GET /v1/licenses, /v1/licenses/{licenseId}, …/codes, …/seats, …/events).

use seat_invitations::http::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    seat_invitations::lambda::run(Function::LicenseAdmin).await
}
