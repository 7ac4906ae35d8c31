//! `connect` picks the backend from the URL, and an opened store works end to end.

use jikimi_respond::{AlertId, DeviceId, IncidentId, Priority, Timestamp};
use jikimi_store::{IncidentFilter, NewAlert, connect, verify_audit};

fn alert() -> NewAlert {
    NewAlert {
        incident_id: IncidentId::new_v7(),
        alert_id: AlertId::new_v4(),
        device_id: DeviceId::new_v4(),
        subscriber_id: None,
        nonce: "n1".into(),
        received_at: Timestamp::from_unix_ms(1_767_225_600_000),
        priority: Priority::new(0).unwrap(),
        fix: None,
        silent: false,
    }
}

#[tokio::test]
async fn sqlite_urls_open_a_file_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        format!("sqlite://{}", dir.path().join("a.db").display()),
        format!("sqlite:{}", dir.path().join("b.db").display()),
        dir.path().join("c.db").display().to_string(),
    ] {
        let store = connect(&url).await.unwrap();
        assert_eq!(store.backend(), "sqlite");
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        store.ping().await.unwrap();
        let results = store.record_alerts(vec![alert()]).await.unwrap();
        assert!(results[0].is_ok());
        assert_eq!(
            store
                .list_incidents(&IncidentFilter::default())
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(verify_audit(store.as_ref()).await.unwrap(), 1);
    }
}

#[tokio::test]
async fn postgres_urls_select_the_postgres_backend() {
    let url = std::env::var("JIKIMI_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let store = connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is required: {e}"));
    assert_eq!(store.backend(), "postgres");
    store.ping().await.unwrap();
}
