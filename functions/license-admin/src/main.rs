//! Lambda function `license-admin`: admin routes for licenses, codes, seats and the audit trail (GET /v1/licenses, /v1/licenses/{licenseId}, …/codes, …/seats, …/events).

use shared::http::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(Function::LicenseAdmin).await
}
