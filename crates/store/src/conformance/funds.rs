//! Follow the money (issue 22): transfer sets on a case, sealed transfers found by blind digest, trace runs; every
//! write audited, no account readable in storage.

use super::registration::{blind_index, keyring};
use super::{TestStore, staff_change};
use crate::funds::{
    ACCOUNT_DIGEST_DOMAIN, NewTraceRun, NewTransferSet, SealedTransfer, run_subject,
    transfer_subject,
};
use crate::{Entity, Error, verify_audit};
use uuid::Uuid;

const VICTIM: &str = "iban:GB82WEST12345698765432";
const MULE: &str = "acct:110234567890";
const WALLET: &str = "tron:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";

fn sealed(set_id: Uuid, seq: u64, tx: &str, from: &str, to: &str, amount: u128) -> SealedTransfer {
    let (ring, blind) = (keyring(), blind_index());
    let subject = transfer_subject(set_id, seq);
    SealedTransfer {
        tx_id: tx.to_owned(),
        timestamp_ns: 1_700_000_000_000_000_000 + seq as i64,
        amount,
        from: ring.seal_str(&subject, "from", from).unwrap(),
        to: ring.seal_str(&subject, "to", to).unwrap(),
        from_digest: blind.digest(ACCOUNT_DIGEST_DOMAIN, from),
        to_digest: blind.digest(ACCOUNT_DIGEST_DOMAIN, to),
    }
}

fn new_set(id: Uuid, case_id: Uuid, name: &str) -> NewTransferSet {
    NewTransferSet {
        id,
        case_id,
        name: name.to_owned(),
        format: "csv".to_owned(),
        currency: "EUR".to_owned(),
        decimals: 2,
        rows: 3,
        bad_rows: 1,
        report: r#"{"bad_row_samples":[{"line":4,"reason":"amount is empty"}]}"#.to_owned(),
    }
}

/// Sets are stored on their case with their transfers in order (accounts sealed, amounts beyond 64 bits exact),
/// found by blind digest, and traced; runs over an unknown set are refused; each write is audited without an
/// account, and no account is readable in the database file.
pub(crate) async fn funds_sets_and_runs_are_sealed_and_audited<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let (case_a, case_b) = (Uuid::now_v7(), Uuid::now_v7());
    let (set_1, set_2) = (Uuid::now_v7(), Uuid::now_v7());
    let big: u128 = 123_456_789_012_345_678_901_234_567;
    let stored = store
        .put_transfer_set(
            &new_set(set_1, case_a, "bank.csv"),
            vec![
                sealed(set_1, 0, "tx-1", VICTIM, MULE, big),
                sealed(set_1, 1, "tx-2", MULE, WALLET, 500),
            ],
            &staff_change("analyst1", 10, "upload"),
        )
        .await
        .unwrap();
    assert_eq!((stored.transfers, stored.bad_rows, stored.rows), (2, 1, 3));
    store
        .put_transfer_set(
            &new_set(set_2, case_b, "other.csv"),
            vec![sealed(set_2, 0, "tx-9", MULE, VICTIM, 7)],
            &staff_change("analyst1", 20, "upload"),
        )
        .await
        .unwrap();
    let again = store
        .put_transfer_set(
            &new_set(set_1, case_a, "bank.csv"),
            vec![],
            &staff_change("analyst1", 30, "upload"),
        )
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");

    let sets = store.list_transfer_sets(case_a).await.unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0], stored);
    assert_eq!(store.get_transfer_set(set_2).await.unwrap().case_id, case_b);
    assert!(matches!(
        store.get_transfer_set(Uuid::now_v7()).await,
        Err(Error::NotFound {
            entity: Entity::TransferSet,
            ..
        })
    ));

    let transfers = store.load_transfers(set_1).await.unwrap();
    assert_eq!(transfers.len(), 2);
    assert_eq!(transfers[0].amount, big);
    assert_eq!(transfers[1].tx_id, "tx-2");
    let ring = keyring();
    let opened = ring
        .open_str(&transfer_subject(set_1, 1), "to", &transfers[1].to)
        .unwrap();
    assert_eq!(opened, WALLET);
    // A sealed account moved to another row does not open.
    assert!(
        ring.open_str(&transfer_subject(set_1, 0), "to", &transfers[1].to)
            .is_err()
    );

    let blind = blind_index();
    let naming = |account: &str| blind.digest(ACCOUNT_DIGEST_DOMAIN, account);
    let mut both = vec![set_1, set_2];
    both.sort();
    assert_eq!(
        store.transfer_sets_naming(&naming(MULE)).await.unwrap(),
        both
    );
    assert_eq!(
        store.transfer_sets_naming(&naming(WALLET)).await.unwrap(),
        vec![set_1]
    );
    assert!(
        store
            .transfer_sets_naming(&naming("acct:999999999"))
            .await
            .unwrap()
            .is_empty()
    );

    let run_id = Uuid::now_v7();
    let result = ring
        .seal_str(
            &run_subject(run_id),
            "result",
            &format!("{{\"holder\":\"{WALLET}\"}}"),
        )
        .unwrap();
    let run = NewTraceRun {
        id: run_id,
        set_id: set_1,
        policy: "fifo".to_owned(),
        seeds: vec!["tx-1".to_owned()],
        summary: r#"{"seeded":"1.00"}"#.to_owned(),
        result,
    };
    let recorded = store
        .record_trace_run(&run, &staff_change("analyst1", 40, "trace"))
        .await
        .unwrap();
    assert_eq!(recorded.case_id, case_a);
    let later = NewTraceRun {
        id: Uuid::now_v7(),
        policy: "haircut".to_owned(),
        ..run.clone()
    };
    store
        .record_trace_run(&later, &staff_change("analyst2", 50, "trace"))
        .await
        .unwrap();
    let unknown_set = NewTraceRun {
        id: Uuid::now_v7(),
        set_id: Uuid::now_v7(),
        ..run.clone()
    };
    assert!(matches!(
        store
            .record_trace_run(&unknown_set, &staff_change("analyst1", 60, "trace"))
            .await,
        Err(Error::NotFound {
            entity: Entity::TransferSet,
            ..
        })
    ));
    let bad_policy = NewTraceRun {
        id: Uuid::now_v7(),
        policy: "lifo".to_owned(),
        ..run.clone()
    };
    assert!(matches!(
        store
            .record_trace_run(&bad_policy, &staff_change("analyst1", 60, "trace"))
            .await,
        Err(Error::Invalid(_))
    ));
    let runs = store.list_trace_runs(case_a).await.unwrap();
    let order: Vec<(Uuid, &str)> = runs.iter().map(|r| (r.id, r.policy.as_str())).collect();
    assert_eq!(order, vec![(later.id, "haircut"), (run_id, "fifo")]);
    assert!(store.list_trace_runs(case_b).await.unwrap().is_empty());
    let got = store.get_trace_run(run_id).await.unwrap();
    assert_eq!(got, recorded);
    assert_eq!(got.seeds, vec!["tx-1".to_owned()]);
    assert!(
        ring.open_str(&run_subject(run_id), "result", &got.result)
            .unwrap()
            .contains(WALLET)
    );
    assert!(matches!(
        store.get_trace_run(Uuid::now_v7()).await,
        Err(Error::NotFound {
            entity: Entity::TraceRun,
            ..
        })
    ));

    let audit = store.list_audit(0, 100).await.unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("funds."))
        .collect();
    assert_eq!(
        actions,
        vec![
            "funds.set_added",
            "funds.set_added",
            "funds.trace_run",
            "funds.trace_run"
        ]
    );
    for entry in &audit {
        let text = format!("{entry:?}");
        for account in [VICTIM, MULE, WALLET, "110234567890", "TR7NHqjeKQ"] {
            assert!(!text.contains(account), "audit names an account: {text}");
        }
    }
    verify_audit(&store).await.unwrap();
    if let Some(bytes) = store.database_bytes().await {
        for needle in ["GB82WEST1234", "110234567890", "TR7NHqjeKQ"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle:?} is readable in the database file"
            );
        }
    }
}
