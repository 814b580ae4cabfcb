//! Demand, which a license's admins see and nobody else: how many students
//! were turned away (no seat left, or the code used up), how many seats
//! would have seated everyone who tried, and how long students waited for
//! a seat. Recorded by the claim (`service::claim`), read here.

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use super::{authorize, seats_used};
use crate::App;
use crate::domain::{Caller, DayAttempts, LicenseId, WAIT_BUCKETS, Waits};
use crate::error::ApiError;

/// The days the view covers, today included.
pub const DEMAND_DAYS: i64 = 30;
/// The window of the headline figures.
pub const RECENT_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemandView {
    pub license_id: LicenseId,
    pub seats_total: u32,
    pub seats_used: u32,
    /// Distinct students refused in the last 7 days (today included).
    pub turned_away_last_7_days: u32,
    /// Distinct students refused in the last 30 days.
    pub turned_away_last_30_days: u32,
    /// Of those refused in the last 7 days, how many hold no seat now: the
    /// seats that would have seated everyone who tried.
    pub seats_short: u32,
    /// Refused attempts per UTC day, oldest first, every day of the 30.
    pub days: Vec<DemandDay>,
    /// Claims by how long after their code or invitation was created they
    /// came (`WAIT_BUCKETS`), since the license began counting.
    pub time_to_seat: TimeToSeat,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemandDay {
    pub date: NaiveDate,
    /// Refused attempts, retries included.
    pub attempts: u32,
    #[serde(flatten)]
    pub by_reason: DayAttempts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeToSeat {
    pub within_hour: u32,
    pub within_day: u32,
    pub within_week: u32,
    pub within_month: u32,
    pub longer: u32,
}

impl From<Waits> for TimeToSeat {
    fn from(w: Waits) -> Self {
        debug_assert_eq!(WAIT_BUCKETS.len(), 5);
        Self {
            within_hour: w[0],
            within_day: w[1],
            within_week: w[2],
            within_month: w[3],
            longer: w[4],
        }
    }
}

pub async fn demand(
    app: &App,
    caller: &Caller,
    license_id: &LicenseId,
) -> Result<DemandView, ApiError> {
    let license = authorize(app, caller, license_id).await?;
    let today = app.now().date_naive();
    let first_day = today - Duration::days(DEMAND_DAYS - 1);
    let since = first_day
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .ok_or(ApiError::Internal)?;
    let recent = since + Duration::days(DEMAND_DAYS - RECENT_DAYS);
    let (recorded, waits, used) = tokio::join!(
        app.store.turned_away(license_id, since),
        app.store.seat_waits(license_id),
        seats_used(app, license_id)
    );
    let (recorded, waits, used) = (recorded?, waits?, used?);
    let lately: Vec<_> = recorded
        .students
        .iter()
        .filter(|s| s.last >= recent)
        .map(|s| s.user_id.clone())
        .collect();
    let seated = app.store.seated_among(license_id, &lately).await?;
    let days = (0..DEMAND_DAYS)
        .map(|i| {
            let date = first_day + Duration::days(i);
            let by_reason = recorded.days.get(&date).copied().unwrap_or_default();
            DemandDay {
                date,
                attempts: by_reason.total(),
                by_reason,
            }
        })
        .collect();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(DemandView {
        license_id: license_id.clone(),
        seats_total: license.seats_total,
        seats_used: used.min(license.seats_total),
        turned_away_last_7_days: count(lately.len()),
        turned_away_last_30_days: count(recorded.students.len()),
        seats_short: count(lately.len() - seated.len()),
        days,
        time_to_seat: waits.into(),
    })
}
