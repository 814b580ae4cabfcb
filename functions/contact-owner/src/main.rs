//! Lambda function `contact-owner`: POST /v1/licenses/{licenseId}/contact-owner: "Contact Owner" by email.

use shared::http::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::run(Function::ContactOwner).await
}
