//! Lambda function `contact-owner`: POST /v1/licenses/{licenseId}/contact-owner: "Contact Owner" by email.

use seat_invitations::http::Function;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    seat_invitations::lambda::run(Function::ContactOwner).await
}
