//! Test harness: a fresh application per test on either store, a clock the
//! test moves, fixtures to create licenses, codes and invitations, and API
//! Gateway events built from the recorded fixtures in `tests/fixtures/`.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use seat_invitations::ApiError;
use seat_invitations::App;
use seat_invitations::app::Clock;
use seat_invitations::config::{Config, Profile};
use seat_invitations::domain::{
    Caller, Email, InvitationStatus, InviteCode, InviteToken, LicenseId, LicenseRecord, Principal,
    Timestamp, random_id,
};
use seat_invitations::error::MailError;
use seat_invitations::mail::{LocalQueue, Mailer, Outbox, OutgoingEmail};
use seat_invitations::service::me::{self, MyInvitations};
use seat_invitations::service::provision::{
    CodeOptions, InvitationOptions, add_code, add_invitation,
};
use seat_invitations::service::redeem;
use seat_invitations::store::{DynamoStore, MemoryStore, Store};

pub mod events;
pub mod sim;

/// Runs each named `async fn(Backend)` as two tests: `memory::<name>` on the
/// embedded store and `dynamodb::<name>` on the DynamoDB emulator.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::Backend::Memory).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::Backend::DynamoDb).await
                }
            )*
        }
    };
}

/// Which store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    DynamoDb,
}

pub struct TestApp {
    pub app: App,
    pub outbox: Arc<Outbox>,
    /// Where invitation mail waits: tests run the sender with
    /// [`TestApp::deliver`].
    pub queue: Arc<LocalQueue>,
    pub backend: Backend,
    now: Arc<Mutex<Timestamp>>,
}

/// The emulator endpoint the test command starts (`scripts/test.sh`).
pub fn dynamodb_endpoint() -> String {
    std::env::var("TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "TEST_DYNAMODB_ENDPOINT is not set: run the tests with ./scripts/test.sh, \
             which starts the DynamoDB emulator (or point it at one yourself)"
        )
    })
}

/// The AWS SDK configuration for every service of the emulator (it serves
/// them all on one port): test credentials, `us-east-1`.
pub async fn emulator_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(dynamodb_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .http_client(seat_invitations::wiring::http_client())
        .load()
        .await
}

/// A hashing-keys secret in the emulator, as the stack's HashKeysSecret
/// holds them; its ARN.
pub async fn emulator_hash_keys_secret(sdk: &aws_config::SdkConfig, key_id: &str) -> String {
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(random_id("hash-keys"))
        .secret_string(
            serde_json::json!({"current": key_id, key_id: "0123456789abcdef0123456789abcdef"})
                .to_string(),
        )
        .send()
        .await
        .expect("secret")
        .arn()
        .expect("arn")
        .to_owned()
}

pub fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .http_client(seat_invitations::wiring::http_client())
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

fn start_time() -> Timestamp {
    chrono::DateTime::parse_from_rfc3339("2026-09-01T08:00:00Z")
        .map(|t| t.to_utc())
        .unwrap_or_default()
}

/// A new table on the emulator, reached through `client`, named from
/// `prefix`: its store and its name.
pub async fn new_table(client: aws_sdk_dynamodb::Client, prefix: &str) -> (DynamoStore, String) {
    let table = random_id(prefix);
    let store = DynamoStore::new(client, &table);
    store.ensure_table().await.expect("create test table");
    (store, table)
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        Self::with(backend, Config::defaults(Profile::Local), None).await
    }

    /// A fresh app: a new in-memory store, or a new table on the emulator.
    pub async fn with(backend: Backend, config: Config, mailer: Option<Arc<dyn Mailer>>) -> Self {
        let store: Arc<dyn Store> = match backend {
            Backend::Memory => Arc::new(MemoryStore::new()),
            Backend::DynamoDb => {
                let (store, _) = new_table(dynamodb_client(&dynamodb_endpoint()), "test").await;
                Arc::new(store)
            }
        };
        Self::on_store(backend, store, config, mailer)
    }

    /// An app on `store`, a table on the emulator, with the local defaults.
    pub fn on_table(store: &DynamoStore) -> Self {
        Self::on_store(
            Backend::DynamoDb,
            Arc::new(store.clone()),
            Config::defaults(Profile::Local),
            None,
        )
    }

    pub fn on_store(
        backend: Backend,
        store: Arc<dyn Store>,
        config: Config,
        mailer: Option<Arc<dyn Mailer>>,
    ) -> Self {
        let now = Arc::new(Mutex::new(start_time()));
        let clock_now = now.clone();
        let clock: Clock = Arc::new(move || *clock_now.lock().unwrap_or_else(|p| p.into_inner()));
        let outbox = Arc::new(Outbox::default());
        let queue = Arc::new(LocalQueue::default());
        let app = App {
            store,
            mailer: mailer.unwrap_or_else(|| outbox.clone()),
            queue: queue.clone(),
            clock,
            config: Arc::new(config),
            known_codes: Arc::default(),
            claim_views: Arc::default(),
        };
        Self {
            app,
            outbox,
            queue,
            backend,
            now,
        }
    }

    /// Runs the invitation sender until the queue is empty, as SQS and the
    /// `invitation-sender` function would (without their waiting).
    pub async fn deliver(&self) -> seat_invitations::service::delivery::Drained {
        seat_invitations::service::delivery::drain(&self.app, &self.queue, |_, _| {
            std::time::Duration::ZERO
        })
        .await
    }

    pub fn now(&self) -> Timestamp {
        self.app.now()
    }

    pub fn advance_secs(&self, secs: i64) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += chrono::TimeDelta::seconds(secs);
    }

    pub fn store(&self) -> &dyn Store {
        self.app.store.as_ref()
    }

    pub fn license_builder(&self, seats: u32) -> LicenseRecord {
        LicenseRecord {
            license_id: random_id("lic").into(),
            name: "ATLAS.ti Campus".into(),
            organization: "Demo University".into(),
            product: "ATLAS.ti".into(),
            seats_total: seats,
            expires_at: None,
            allowed_email_domains: Vec::new(),
            owner: Principal {
                sub: "owner-1".into(),
                email: email("owner@demo.edu"),
            },
            admins: Vec::new(),
            created_at: self.now(),
        }
    }

    pub async fn create(&self, license: LicenseRecord) -> LicenseRecord {
        self.store()
            .create_license(&license)
            .await
            .expect("create license");
        license
    }

    pub async fn license(&self, seats: u32) -> LicenseRecord {
        self.create(self.license_builder(seats)).await
    }

    pub async fn code(&self, license_id: &LicenseId, max_uses: Option<u32>) -> InviteCode {
        self.code_with(license_id, max_uses, None, false).await
    }

    pub async fn code_with(
        &self,
        license_id: &LicenseId,
        max_uses: Option<u32>,
        expires_at: Option<Timestamp>,
        revoked: bool,
    ) -> InviteCode {
        let code = InviteCode::generate();
        let options = CodeOptions {
            max_uses,
            expires_at,
            revoked,
            note: None,
        };
        add_code(
            self.store(),
            &self.app.config.hash_keys,
            license_id,
            &code,
            options,
            "test",
            self.now(),
        )
        .await
        .expect("create code");
        code
    }

    pub async fn invitation(&self, license_id: &LicenseId, to: Option<&str>) -> InviteToken {
        self.invitation_with(license_id, to, None, InvitationStatus::Pending)
            .await
    }

    pub async fn invitation_with(
        &self,
        license_id: &LicenseId,
        to: Option<&str>,
        expires_at: Option<Timestamp>,
        status: InvitationStatus,
    ) -> InviteToken {
        let token = InviteToken::generate();
        let options = InvitationOptions {
            email: to.map(email),
            expires_at,
            valid_days: None,
            status,
            invited_by: None,
            delivery: None,
        };
        add_invitation(
            self.store(),
            &self.app.config.hash_keys,
            license_id,
            &token,
            options,
            "test",
            self.now(),
        )
        .await
        .expect("create invitation");
        token
    }

    /// Seats in use as the counters say, and as the seat items say.
    pub async fn seats_used(&self, license_id: &LicenseId) -> u32 {
        self.store()
            .licenses_with_usage(std::slice::from_ref(license_id))
            .await
            .expect("usage")
            .first()
            .map_or(0, |(_, used)| *used)
    }

    /// A license of one seat that ann took with its code, so that bob, next,
    /// finds none: the license and the (formatted) code.
    pub async fn one_seat_taken_by_ann(&self) -> (LicenseId, String) {
        let license_id = self.license(1).await.license_id;
        let code = self.code(&license_id, None).await.formatted();
        redeem::redeem(&self.app, &user("ann", "ann@demo.edu"), &code)
            .await
            .expect("ann");
        let bob = redeem::redeem(&self.app, &user("bob", "bob@demo.edu"), &code).await;
        assert_eq!(bob.err(), Some(ApiError::NoSeatsAvailable));
        (license_id, code)
    }

    /// The first page of `who`'s My Invitations: their licenses and the
    /// invitations pending for them.
    pub async fn mine(&self, who: &Caller) -> MyInvitations {
        me::my_invitations(&self.app, who, 50, None)
            .await
            .expect("my invitations")
    }
}

pub fn email(raw: &str) -> Email {
    Email::parse(raw).expect("valid test email")
}

/// A signed-in user with a verified email.
pub fn user(sub: &str, address: &str) -> Caller {
    Caller {
        user_id: sub.into(),
        email: Some(email(address)),
        email_verified: true,
        email_claimed: true,
        name: Some(format!("User {sub}")),
        site: None,
        source: None,
    }
}

/// A mail service that refuses mail to one address and keeps the rest.
pub struct RefusingOne {
    pub refuse: String,
    pub outbox: Arc<Outbox>,
}

#[async_trait]
impl Mailer for RefusingOne {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, MailError> {
        if email.to.iter().any(|to| to == &self.refuse) {
            return Err(MailError::unavailable("SES SendEmail", "MessageRejected"));
        }
        self.outbox.send(email).await
    }
}

/// SES over its send rate: of every `every` sends, only the last goes
/// through; the rest are throttled (not sent), as SES answers a send over
/// the account's rate. Counts every attempt.
pub struct Throttling {
    pub every: u64,
    pub outbox: Arc<Outbox>,
    pub attempts: std::sync::atomic::AtomicU64,
}

impl Throttling {
    pub fn new(every: u64) -> Self {
        Self {
            every,
            outbox: Arc::new(Outbox::default()),
            attempts: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl Mailer for Throttling {
    async fn send(&self, email: &OutgoingEmail) -> Result<String, MailError> {
        let n = self
            .attempts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        if !n.is_multiple_of(self.every) {
            return Err(MailError::Throttled {
                operation: "SES SendEmail",
            });
        }
        self.outbox.send(email).await
    }
}

/// The invite token in an email's text (`…/invite/<token>`).
pub fn token_in(email: &OutgoingEmail) -> String {
    email
        .text
        .split_whitespace()
        .find_map(|word| word.split("/invite/").nth(1))
        .expect("an invite URL in the email")
        .to_owned()
}

/// A mail service that refuses everything, as SES does when throttling.
pub struct RefusingMailer;

#[async_trait]
impl Mailer for RefusingMailer {
    async fn send(&self, _email: &OutgoingEmail) -> Result<String, MailError> {
        Err(MailError::unavailable("SES SendEmail", "Throttling"))
    }
}
