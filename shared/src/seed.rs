//! The seed file (`SEED_FILE`, example in `examples/seed.json`): licenses
//! with their codes and invitations, plaintext secrets hashed on load.
//! Used by the devserver, by functions on the embedded store, and by
//! `seatctl load-seed`.

use serde::Deserialize;

use crate::domain::{
    Email, HashKeys, InvitationStatus, InviteCode, InviteToken, LicenseId, LicenseRecord,
    Principal, Timestamp,
};
use crate::error::StoreError;
use crate::service::provision::{CodeOptions, InvitationOptions, add_code, add_invitation};
use crate::store::{Codes, Directory, Invitations};

/// The actor named in the audit events of seeded codes and invitations.
pub const SEED_ACTOR: &str = "seed";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seed {
    pub licenses: Vec<SeedLicense>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedLicense {
    pub license_id: String,
    pub name: String,
    pub organization: String,
    pub product: String,
    pub seats_total: u32,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub allowed_email_domains: Vec<String>,
    pub owner: Principal,
    #[serde(default)]
    pub admins: Vec<Principal>,
    #[serde(default)]
    pub codes: Vec<SeedCode>,
    #[serde(default)]
    pub invitations: Vec<SeedInvitation>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedCode {
    pub code: String,
    #[serde(default)]
    pub max_uses: Option<u32>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedInvitation {
    pub token: String,
    #[serde(default)]
    pub email: Option<Email>,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub revoked: bool,
    /// The inviter's display name, shown on the invite page.
    #[serde(default)]
    pub invited_by: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed file is not valid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Seed {
    /// Reads and parses a seed file.
    pub fn read(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("SEED_FILE {path}: {e}"))?;
        Self::parse(&text).map_err(|e| format!("SEED_FILE {path}: {e}"))
    }

    pub fn parse(json: &str) -> Result<Self, SeedError> {
        serde_json::from_str(json).map_err(|e| SeedError::Invalid(e.to_string()))
    }

    /// Writes every license, code and invitation; stops at the first error.
    pub async fn load<S>(&self, store: &S, keys: &HashKeys, now: Timestamp) -> Result<(), SeedError>
    where
        S: Directory + Codes + Invitations + ?Sized,
    {
        for lic in &self.licenses {
            if lic.license_id.trim().is_empty() || lic.license_id.contains('#') {
                return Err(SeedError::Invalid(format!(
                    "bad licenseId {:?}",
                    lic.license_id
                )));
            }
            let license_id = LicenseId::from(lic.license_id.as_str());
            store
                .create_license(&LicenseRecord {
                    license_id: license_id.clone(),
                    name: lic.name.clone(),
                    organization: lic.organization.clone(),
                    product: lic.product.clone(),
                    seats_total: lic.seats_total,
                    expires_at: lic.expires_at,
                    allowed_email_domains: lic.allowed_email_domains.clone(),
                    owner: lic.owner.clone(),
                    admins: lic.admins.clone(),
                    created_at: now,
                })
                .await?;
            for code in &lic.codes {
                let parsed = InviteCode::parse(&code.code).ok_or_else(|| {
                    SeedError::Invalid("a code is not in the I-XXXX-XXXX-XXXX format".into())
                })?;
                if code.max_uses == Some(0) {
                    return Err(SeedError::Invalid("maxUses must be at least 1".into()));
                }
                let options = CodeOptions {
                    max_uses: code.max_uses,
                    expires_at: code.expires_at,
                    revoked: code.revoked,
                    note: code.note.clone(),
                };
                add_code(store, keys, &license_id, &parsed, options, SEED_ACTOR, now).await?;
            }
            for inv in &lic.invitations {
                let token = InviteToken::parse(&inv.token).ok_or_else(|| {
                    SeedError::Invalid(
                        "an invitation token must be 43 to 128 URL-safe characters".into(),
                    )
                })?;
                let options = InvitationOptions {
                    email: inv.email.clone(),
                    expires_at: inv.expires_at,
                    status: if inv.revoked {
                        InvitationStatus::Revoked
                    } else {
                        InvitationStatus::Pending
                    },
                    invited_by: inv.invited_by.clone(),
                    ..InvitationOptions::default()
                };
                add_invitation(store, keys, &license_id, &token, options, SEED_ACTOR, now).await?;
            }
        }
        Ok(())
    }
}
