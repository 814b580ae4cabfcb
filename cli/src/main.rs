//! `seatctl`: the vendor's back office. Works against any DynamoDB endpoint
//! through the standard AWS environment (`AWS_REGION`, credentials,
//! `AWS_ENDPOINT_URL_DYNAMODB`); the table comes from `--table` or
//! `TABLE_NAME`, or from the deployed stack's outputs with `--stack`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use seat_invitations::domain::{
    Email, Event, EventKind, HashKey, HashKeys, LicenseId, LicenseRecord, Principal, Timestamp,
};
use seat_invitations::error::StoreError;
use seat_invitations::seed::Seed;
use seat_invitations::store::{Codes, Directory, DynamoStore, Paging, SeatsChange};
use seatctl::{doctor, stack};

const ACTOR: &str = "operator";

/// What `seatctl --help` ends with: where the table is, and how to reach a
/// local emulator.
const AFTER_HELP: &str = "\
Environment:
  STACK_NAME                  the deployed stack (same as --stack): the table and the
                              hashing-keys secret come from its outputs
  TABLE_NAME                  the table (same as --table; default seat-invitations)
  AWS_REGION                  the region (the docs use us-east-1 throughout)
  AWS_ENDPOINT_URL_DYNAMODB   another DynamoDB endpoint, e.g. the local emulator
                              http://127.0.0.1:5000 (start it with ./scripts/emulator.sh)
  HASH_KEYS_SECRET_ID         the Secrets Manager secret with the keys codes and tokens
                              are hashed with (the stack's HashKeysSecret output)
  HASH_KEYS                   the keys themselves, as JSON (local runs); with neither,
                              the built-in development key (local data only)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
                              credentials; the emulator accepts any (e.g. test, test)
  and the rest of the standard AWS environment (AWS_PROFILE, AWS_ENDPOINT_URL, ...).

Against the emulator:
  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \\
    AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:5000
  seatctl create-table

Against a deployed stack (its TableName and HashKeysSecret outputs):
  seatctl --stack seats show --license lic-campus
  seatctl doctor --stack seats

Every subcommand has --help (e.g. seatctl create-license --help).";

#[derive(Parser)]
#[command(
    name = "seatctl",
    version,
    about = "Operator CLI for seat invitations",
    long_about = "Operator CLI for seat invitations: creates the table and licenses, changes \
                  seat counts, shows usage and loads seed files, against any DynamoDB \
                  endpoint through the standard AWS environment.",
    after_help = AFTER_HELP
)]
struct Cli {
    /// The deployed stack: the table and the hashing-keys secret come from
    /// its outputs (TableName, HashKeysSecret) unless given otherwise.
    #[arg(long, env = "STACK_NAME", global = true)]
    stack: Option<String>,
    /// DynamoDB table (default: the stack's, else seat-invitations).
    #[arg(long, env = "TABLE_NAME", global = true)]
    table: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a deploy: before it (`--issuer`, `--sender`) and after it
    /// (`--stack`): credentials, the stack's status and outputs, the
    /// issuer's discovery document, the SES sender and the account's
    /// sandbox quota, the table (indexes, recovery, TTL, protection), the
    /// hashing keys and that the API answers 401 without a token. Prints
    /// what to fix, in order; exits 1 when a check fails.
    Doctor {
        /// The identity provider's issuer (JwtIssuer); default: the stack's
        /// OidcIssuer output.
        #[arg(long)]
        issuer: Option<String>,
        /// The SES sender (SenderEmail); default: the stack's parameter.
        #[arg(long)]
        sender: Option<String>,
        /// The API's base URL; default: the stack's ApiUrl output.
        #[arg(long)]
        api_url: Option<String>,
    },
    #[command(flatten)]
    Data(DataCommand),
}

/// The commands that work on the table.
#[derive(Subcommand)]
enum DataCommand {
    /// Create the table (keys, indexes, TTL) if it does not exist.
    CreateTable,
    /// Create a license.
    CreateLicense {
        /// The license id (no `#` or `/`), e.g. lic-uni.
        #[arg(long)]
        id: String,
        /// The license's name, shown to members.
        #[arg(long)]
        name: String,
        /// The organization that holds the license.
        #[arg(long)]
        organization: String,
        /// The product it licenses.
        #[arg(long)]
        product: String,
        /// The number of seats.
        #[arg(long)]
        seats: u32,
        /// The owner, as SUB:EMAIL.
        #[arg(long)]
        owner: String,
        /// An admin, as SUB:EMAIL (repeatable).
        #[arg(long = "admin")]
        admins: Vec<String>,
        /// Expiry, RFC 3339 (e.g. 2027-08-31T23:59:59Z).
        #[arg(long)]
        expires: Option<Timestamp>,
        /// An allowed email domain (repeatable); none means any.
        #[arg(long = "domain")]
        domains: Vec<String>,
    },
    /// Change the seat count (never below the seats in use).
    SetSeats {
        /// The license id.
        #[arg(long)]
        license: String,
        /// The new seat count.
        #[arg(long)]
        seats: u32,
    },
    /// Show a license with its usage and codes, as JSON.
    Show {
        /// The license id.
        #[arg(long)]
        license: String,
    },
    /// Give invitations and seats written before the gsi3 index existed
    /// their gsi3 keys (status-filtered invitation lists, the "already a
    /// member" check). Idempotent; run once after upgrading.
    BackfillLookupKeys,
    /// Give the seat counters of licenses created before counters carried
    /// the license's rules (expiry, email domains) their copy, so that a
    /// code's first claim in a container needs no extra round trip.
    /// Idempotent; run once after upgrading.
    BackfillShardRules,
    /// Give licenses and codes created with 16 counter shards the rest (64
    /// now), spreading their free seats and unused uses over all of them,
    /// so their claims conflict as rarely as new ones'. Codes first, then
    /// licenses. Idempotent and safe while the service runs; run once after
    /// upgrading.
    WidenCounters,
    /// The load-test kit (docs/load-test.md): one new license and code on
    /// the table, then open-loop steps of redemptions through the real
    /// claim code, each step's claims/s, p99, cancellation reasons,
    /// throttles, consumed capacity and fitted hold time printed as it
    /// ends. Writes to the table: point it at a scratch stack.
    LoadTest {
        /// Arrivals a second, one step each.
        #[arg(long, value_delimiter = ',', default_value = "250,500,1000,1500,2000")]
        rates: Vec<f64>,
        /// Each step's length, in seconds.
        #[arg(long, default_value_t = 60)]
        step_secs: u64,
        /// The license's seats (default: the arrivals expected, a fifth more
        /// and 100).
        #[arg(long)]
        seats: Option<u32>,
        /// The code's use limit (default: none, the usual campus code).
        #[arg(long)]
        max_uses: Option<u32>,
    },
    /// Load a seed file (the devserver's format, e.g. examples/seed.json).
    LoadSeed {
        /// The seed file (JSON).
        file: std::path::PathBuf,
    },
    /// The keys codes and invite tokens are hashed with.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Count the stored codes and invitations each key made ("unkeyed":
    /// made by a version before keyed hashes; run `seatctl keys migrate`).
    Status,
    /// Put a new random key first in the secret: new codes and tokens are
    /// hashed with it, and the previous keys stay accepted. Running
    /// functions keep the keys they started with, so the old current key
    /// stays valid for them; new containers read the new set.
    Rotate {
        /// How many keys the secret keeps, the new one included (at least 2,
        /// so codes made under the previous key keep working).
        #[arg(long, default_value_t = 2)]
        keep: usize,
    },
    /// Move codes and invitations stored under unkeyed hashes (versions
    /// before keyed hashes) to the current key. Safe to run again.
    Migrate,
}

/// The hashing keys: from the secret, from HASH_KEYS, or the development key.
async fn hash_keys(aws: &aws_config::SdkConfig, secret: Option<&str>) -> Result<HashKeys, String> {
    if let Some(id) = secret {
        return seat_invitations::wiring::hash_keys(aws, id).await;
    }
    match std::env::var("HASH_KEYS") {
        Ok(json) if !json.trim().is_empty() => {
            HashKeys::parse(&json).map_err(|why| format!("HASH_KEYS: {why}"))
        }
        _ => {
            eprintln!(
                "seatctl: no HASH_KEYS_SECRET_ID or HASH_KEYS: using the built-in development key (local data only)"
            );
            Ok(HashKeys::development())
        }
    }
}

fn secret_id() -> Option<String> {
    std::env::var("HASH_KEYS_SECRET_ID")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// The table and the hashing-keys secret: as given, else from the stack's
/// outputs, else the defaults (the table `seat-invitations`, no secret).
struct Resolved {
    table: String,
    secret_id: Option<String>,
}

async fn resolve(
    aws: &aws_config::SdkConfig,
    stack: Option<&str>,
    mut table: Option<String>,
) -> Result<Resolved, String> {
    let mut secret_id = secret_id();
    if let Some(name) = stack {
        let client = aws_sdk_cloudformation::Client::new(aws);
        let found = stack::describe(&client, name)
            .await
            .map_err(|e| format!("stack {name}: {e}"))?;
        let stacks = found.require(stack::TABLE_OUTPUT)?;
        match &table {
            None => table = Some(stacks.to_owned()),
            Some(given) if given != stacks => eprintln!(
                "seatctl: using table {given} (--table or TABLE_NAME), not the stack's {stacks}"
            ),
            Some(_) => {}
        }
        if secret_id.is_none() {
            secret_id = Some(found.require(stack::SECRET_OUTPUT)?.to_owned());
        }
    }
    Ok(Resolved {
        table: table.unwrap_or_else(|| "seat-invitations".into()),
        secret_id,
    })
}

async fn rotate(
    aws: &aws_config::SdkConfig,
    secret: Option<&str>,
    keep: usize,
) -> Result<(), String> {
    if keep < 2 {
        return Err(
            "--keep must be at least 2: codes hashed with the previous key must keep working"
                .into(),
        );
    }
    let id =
        secret.ok_or("set HASH_KEYS_SECRET_ID to the stack's HashKeysSecret, or give --stack")?;
    let keys = seat_invitations::wiring::hash_keys(aws, id).await?;
    let new_id = chrono::Utc::now().format("k%Y%m%d%H%M%S").to_string();
    let rotated = keys.rotated(HashKey::generate(&new_id)?, keep)?;
    seat_invitations::wiring::put_hash_keys(aws, id, &rotated).await?;
    let ids: Vec<&str> = rotated.keys().iter().map(HashKey::id).collect();
    println!(
        "new current key {new_id}; accepted keys now: {}",
        ids.join(", ")
    );
    Ok(())
}

fn principal(raw: &str) -> Result<Principal, String> {
    let (sub, email) = raw
        .split_once(':')
        .ok_or_else(|| format!("{raw:?} is not SUB:EMAIL"))?;
    let email = Email::parse(email).ok_or_else(|| format!("{email:?} is not an email address"))?;
    if sub.trim().is_empty() || sub.contains('#') {
        return Err(format!("{sub:?} is not a valid user id"));
    }
    Ok(Principal {
        sub: sub.trim().into(),
        email,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("seatctl: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let aws = seat_invitations::wiring::aws_sdk_config_from_env().await;
    let command = match cli.command {
        Command::Doctor {
            issuer,
            sender,
            api_url,
        } => {
            let target = doctor::Target {
                stack: cli.stack,
                issuer,
                sender,
                table: cli.table,
                secret_id: secret_id(),
                api_url,
            };
            let report = doctor::run(&doctor::Clients::new(aws), target).await;
            print!("{}", report.render());
            return if report.failed() {
                Err("a check failed (see above)".into())
            } else {
                Ok(())
            };
        }
        Command::Data(command) => command,
    };
    let Resolved { table, secret_id } = resolve(&aws, cli.stack.as_deref(), cli.table).await?;
    let secret = secret_id.as_deref();
    let store = DynamoStore::from_sdk_config(&aws, &table);
    let now = chrono::Utc::now();
    let store_err = |e: StoreError| e.to_string();
    match command {
        DataCommand::CreateTable => {
            store.ensure_table().await.map_err(store_err)?;
            println!("table {table} is ready");
        }
        DataCommand::BackfillLookupKeys => {
            let done = store.backfill_lookup_keys().await.map_err(store_err)?;
            println!(
                "scanned {} items: gsi3 keys set on {} invitation(s) and {} seat(s), {} skipped (changed meanwhile)",
                done.scanned, done.invitations, done.seats, done.skipped
            );
        }
        DataCommand::BackfillShardRules => {
            let done = store.copy_rules_to_seat_shards().await.map_err(store_err)?;
            println!(
                "{} license(s): rules copied to {} seat counter shard(s)",
                done.licenses, done.shards
            );
        }
        DataCommand::WidenCounters => {
            let done = store.widen_counters().await.map_err(store_err)?;
            println!(
                "widened {} code(s) and {} license(s) to {} counter shards",
                done.codes,
                done.licenses,
                seat_invitations::domain::COUNTER_SHARDS
            );
            if !done.skipped.is_empty() {
                return Err(format!(
                    "{} left as they were (busy through every attempt): {}; run the command again",
                    done.skipped.len(),
                    done.skipped.join(", ")
                ));
            }
        }
        DataCommand::LoadTest {
            rates,
            step_secs,
            seats,
            max_uses,
        } => {
            if rates.is_empty() || rates.iter().any(|r| !r.is_finite() || *r <= 0.0) {
                return Err("--rates: give positive arrivals a second, e.g. 250,500".into());
            }
            let plan = seatctl::load_test::Plan {
                rates,
                step: std::time::Duration::from_secs(step_secs.max(1)),
                seats,
                max_uses,
            };
            let meter = seatctl::load_test::Meter::default();
            let metered = seatctl::load_test::metered_store(&aws, &table, &meter);
            let keys = hash_keys(&aws, secret).await?;
            let capped = plan.max_uses.is_some();
            seatctl::load_test::run(std::sync::Arc::new(metered), &meter, keys, &plan, |step| {
                println!("{}", step.render(capped));
            })
            .await?;
        }
        DataCommand::CreateLicense {
            id,
            name,
            organization,
            product,
            seats,
            owner,
            admins,
            expires,
            domains,
        } => {
            if id.trim().is_empty() || id.contains('#') || id.contains('/') {
                return Err(format!("{id:?} is not a valid license id"));
            }
            let license = LicenseRecord {
                license_id: id.as_str().into(),
                name,
                organization,
                product,
                seats_total: seats,
                expires_at: expires,
                allowed_email_domains: domains.iter().map(|d| d.trim().to_lowercase()).collect(),
                owner: principal(&owner)?,
                admins: admins
                    .iter()
                    .map(|a| principal(a))
                    .collect::<Result<_, _>>()?,
                created_at: now,
            };
            store.create_license(&license).await.map_err(store_err)?;
            println!("license {id} created with {seats} seats");
        }
        DataCommand::SetSeats { license, seats } => {
            let license = LicenseId::from(license);
            store
                .license(&license)
                .await
                .map_err(store_err)?
                .ok_or_else(|| format!("no license {license}"))?;
            let mut event = Event::new(&license, EventKind::SeatsChanged, ACTOR, now);
            event.detail = Some(format!("seatsTotal set to {seats}"));
            match store
                .set_seats_total(&license, seats, &event)
                .await
                .map_err(store_err)?
            {
                SeatsChange::Changed => println!("license {license} now has {seats} seats"),
                SeatsChange::BelowSeatsInUse(used) => {
                    return Err(format!(
                        "license {license} has {used} seats in use; the seat count cannot go below that"
                    ));
                }
            }
        }
        DataCommand::Show { license } => {
            let license = LicenseId::from(license);
            let (record, used) = store
                .licenses_with_usage(std::slice::from_ref(&license))
                .await
                .map_err(store_err)?
                .into_iter()
                .next()
                .ok_or_else(|| format!("no license {license}"))?;
            let mut codes: Vec<serde_json::Value> = Vec::new();
            let mut after = None;
            loop {
                let page = store
                    .license_codes(&license, Paging::new(after.as_ref(), 100))
                    .await
                    .map_err(store_err)?;
                codes.extend(page.items.into_iter().map(|(c, uses)| {
                    serde_json::json!({"codeId": c.code_id, "last4": c.last4, "maxUses": c.max_uses,
                        "uses": uses, "expiresAt": c.expires_at, "revoked": c.revoked, "note": c.note})
                }));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            let out = serde_json::json!({
                "license": record.view(used),
                "owner": record.owner,
                "admins": record.admins,
                "createdAt": record.created_at,
                "codes": codes,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
            );
        }
        DataCommand::LoadSeed { file } => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let seed = Seed::parse(&text).map_err(|e| e.to_string())?;
            let keys = hash_keys(&aws, secret).await?;
            seed.load(&store, &keys, now)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "loaded {} license(s) from {}",
                seed.licenses.len(),
                file.display()
            );
        }
        DataCommand::Keys(KeysCommand::Status) => {
            let census = store.hash_census().await.map_err(store_err)?;
            let out = serde_json::json!({"codes": census.codes, "invitations": census.invitations});
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
            );
        }
        DataCommand::Keys(KeysCommand::Rotate { keep }) => rotate(&aws, secret, keep).await?,
        DataCommand::Keys(KeysCommand::Migrate) => {
            let keys = hash_keys(&aws, secret).await?;
            let done = store.rekey_legacy_hashes(&keys).await.map_err(store_err)?;
            println!(
                "re-keyed {} code(s) and {} invitation(s) under key {}; {} changed meanwhile (run again)",
                done.codes,
                done.invitations,
                keys.current().id(),
                done.skipped
            );
        }
    }
    Ok(())
}
