//! Response times from the incident store (an I/O edge): for every incident a unit reached, the
//! seconds from the alert's acceptance (alert received) to on scene, and the district of the
//! incident's location.
//!
//! Only the incident projection's `opened_at`, `on_scene_at` and location are read: no subscriber,
//! device or personal field. The read is recorded in the audit chain (`analytics.equity_read`),
//! because incident locations say where people asked for help.

use jikimi_audit::NewAuditEntry;
use jikimi_respond::{Incident, IncidentStatus, Timestamp};
use jikimi_store::{IncidentFilter, IncidentOrder, Store};
use serde::Serialize;

use crate::Error;
use crate::districts::DistrictLayout;
use crate::equity::{ReportPeriod, Response};

/// Incidents read per page (the store's upper bound on one listing).
pub const PAGE: u32 = 10_000;

/// What was read, and what was left out and why.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreResponses {
    /// One per incident reached on scene inside a district.
    pub responses: Vec<Response>,
    /// Incidents listed (on scene or closed).
    pub listed: usize,
    /// Closed without a unit on scene.
    pub never_on_scene: usize,
    /// Reached, but with no location.
    pub no_location: usize,
    /// Reached, located outside every district.
    pub outside: usize,
    /// Pages read (every incident is read, page by page).
    pub pages: usize,
    /// Left out because the alert was received outside the report's period.
    pub outside_period: usize,
}

/// Turns incidents into responses by district (pure; [`read_responses`] feeds it from a store).
pub fn responses_from_incidents(incidents: &[Incident], layout: &DistrictLayout) -> StoreResponses {
    responses_from_incidents_in(incidents, layout, ReportPeriod::default())
}

/// [`responses_from_incidents`] for the incidents whose alert was received in `period`.
pub fn responses_from_incidents_in(
    incidents: &[Incident],
    layout: &DistrictLayout,
    period: ReportPeriod,
) -> StoreResponses {
    let mut out = StoreResponses::default();
    out.add(incidents, layout, period);
    out
}

impl StoreResponses {
    /// Adds a page of incidents: each is counted once, as a response or under the reason it was left out.
    fn add(&mut self, incidents: &[Incident], layout: &DistrictLayout, period: ReportPeriod) {
        self.listed += incidents.len();
        for i in incidents {
            if !period.contains(i.opened_at.as_unix_ms() as f64 / 1000.0) {
                self.outside_period += 1;
                continue;
            }
            let Some(on_scene) = i.on_scene_at else {
                self.never_on_scene += 1;
                continue;
            };
            let Some(fix) = &i.location else {
                self.no_location += 1;
                continue;
            };
            match layout.locate(fix.coords.lat(), fix.coords.lon()) {
                Some(name) => self.responses.push(Response {
                    district: name.to_string(),
                    seconds: on_scene.seconds_since(i.opened_at),
                    weight: 1.0,
                }),
                None => self.outside += 1,
            }
        }
    }
}

/// Lists every incident a unit reached (on scene or closed), page by page in id order, and converts
/// them as [`responses_from_incidents`] does; appends one audit entry naming how many were read.
pub async fn read_responses(
    store: &dyn Store,
    layout: &DistrictLayout,
    now: Timestamp,
) -> Result<StoreResponses, Error> {
    read_responses_paged(store, layout, now, ReportPeriod::default(), PAGE).await
}

/// [`read_responses`] for a period, with a chosen page size (1..=10,000).
pub async fn read_responses_paged(
    store: &dyn Store,
    layout: &DistrictLayout,
    now: Timestamp,
    period: ReportPeriod,
    page: u32,
) -> Result<StoreResponses, Error> {
    // Each page is turned into responses as it arrives, so memory holds one page of incidents, not the history.
    let mut out = StoreResponses::default();
    let mut after = None;
    loop {
        let filter = IncidentFilter {
            statuses: vec![IncidentStatus::OnScene, IncidentStatus::Closed],
            subscriber_id: None,
            device_id: None,
            limit: page,
            order: IncidentOrder::ById { after },
        };
        let batch = store.list_incidents(&filter).await?;
        out.pages += 1;
        out.add(&batch, layout, period);
        if batch.len() < page as usize {
            break;
        }
        after = batch.last().map(|i| i.id);
    }
    let entry = NewAuditEntry::new(
        now.as_unix_ms(),
        "system",
        "analytics.equity_read",
        "incidents",
        format!(
            "response-time equity report read {} incidents ({} in the period, {} responses by district)",
            out.listed,
            out.listed - out.outside_period,
            out.responses.len()
        ),
    );
    store.append_audit(vec![entry]).await?;
    Ok(out)
}
