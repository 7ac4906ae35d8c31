//! Surge clustering through the API: alerts from different devices within 200 m and 10 minutes become one incident
//! in the dispatcher's queue with a report count; the queue stays ordered by priority then age.

use axum::http::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::support::{Harness, sos};
use jikimi_server::roles::Role;

pub async fn nearby_alerts_share_an_incident_in_the_queue(h: &Harness) {
    let mut devices = Vec::new();
    for _ in 0..4 {
        devices.push(h.device().await);
    }
    // Three reports around one square (within ~100 m), one of them more urgent; one alert 5 km away.
    let (status, first) = h.raise(&devices[0], sos(37.5665, 126.9780)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    h.advance_s(30);
    let urgent = json!({"alert_id": Uuid::new_v4(), "priority": 0, "location": {"lat": 37.5670, "lon": 126.9785, "accuracy_m": 3.0, "method": "gnss"}});
    let (_, second) = h.raise(&devices[1], urgent).await;
    let (_, third) = h.raise(&devices[2], sos(37.5660, 126.9775)).await;
    let (_, far) = h.raise(&devices[3], sos(37.6100, 126.9780)).await;
    assert_eq!(second["incident_id"], first["incident_id"]);
    assert_eq!(third["incident_id"], first["incident_id"]);
    assert_ne!(far["incident_id"], first["incident_id"]);

    let token = h.login_as(Role::Dispatcher).await;
    let (status, queue) = h
        .call(
            Method::GET,
            "/api/incidents?status=open",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let queue = queue.as_array().expect("list").clone();
    assert_eq!(queue.len(), 2);
    // The cluster took the urgent report's code 0 and its 3 m fix, so it leads the queue.
    assert_eq!(queue[0]["id"], first["incident_id"]);
    assert_eq!(queue[0]["report_count"], 3);
    assert_eq!(queue[0]["priority"], 0);
    assert_eq!(queue[0]["location"]["accuracy_m"], 3.0);
    assert_eq!(queue[1]["report_count"], 1);
    let counts = h.store.intake_counts().await.expect("counts");
    assert_eq!((counts.alerts, counts.incidents), (4, 2));
}
