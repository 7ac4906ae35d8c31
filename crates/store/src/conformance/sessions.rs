//! Sessions against the staff row (issue 16): the current role, disabled accounts, sessions ended by a password
//! reset, role change or disabling; and the scheduled purge of used nonces and expired sessions.

use super::{TestStore, accept_one, alert, staff_change, t};
use crate::{Conflict, Error, Role, SessionRecord, StaffUser};
use jikimi_respond::DeviceId;

fn staff(username: &str, role: Role) -> StaffUser {
    StaffUser {
        username: username.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role,
        created_at: t(0),
        disabled: false,
    }
}

fn session(token: u8, username: &str, role: Role, expires_ms: i64) -> SessionRecord {
    SessionRecord {
        token_hash: [token; 32],
        username: username.into(),
        role,
        created_at: t(10),
        expires_at: t(expires_ms),
    }
}

/// A session row is only as good as its account: it reads the account's current role, and a disabled account's
/// session is refused even while its row still exists.
pub(crate) async fn sessions_follow_the_current_staff_row<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let kim = staff("kim", Role::Dispatcher);
    store
        .create_staff(&kim, &staff_change("admin", 0, "hire"))
        .await
        .unwrap();
    // A row written with a role the account no longer has (as a session taken before a demotion would be).
    store
        .create_session(
            &session(1, "kim", Role::Admin, 1_000),
            &staff_change("kim", 10, "login"),
        )
        .await
        .unwrap();
    let read = store.get_session(&[1; 32], t(20)).await.unwrap();
    assert_eq!(
        read.role,
        Role::Dispatcher,
        "the account's role, not the row's"
    );
    assert_eq!(read.username, "kim");

    let disabled = StaffUser {
        disabled: true,
        ..kim.clone()
    };
    store
        .update_staff(&disabled, &staff_change("admin", 30, "left the centre"))
        .await
        .unwrap();
    // Even a session created after disabling (nothing should, but the store must not trust it) is refused.
    store
        .create_session(
            &session(2, "kim", Role::Dispatcher, 1_000),
            &staff_change("kim", 40, "login"),
        )
        .await
        .unwrap();
    assert!(
        store
            .get_session(&[2; 32], t(50))
            .await
            .unwrap_err()
            .is_not_found(),
        "disabled account"
    );
}

/// `update_staff` (password reset, role change, disabling) ends every session of that account in its own
/// transaction, and only that account's; the audit entry counts them.
pub(crate) async fn staff_update_ends_the_accounts_sessions<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    for user in [
        staff("kim", Role::Dispatcher),
        staff("lee", Role::Dispatcher),
    ] {
        store
            .create_staff(&user, &staff_change("admin", 0, "hire"))
            .await
            .unwrap();
    }
    for (token, user) in [(1, "kim"), (2, "kim"), (3, "lee")] {
        store
            .create_session(
                &session(token, user, Role::Dispatcher, 1_000),
                &staff_change(user, 10, "login"),
            )
            .await
            .unwrap();
    }
    let promoted = StaffUser {
        role: Role::Supervisor,
        ..staff("kim", Role::Dispatcher)
    };
    store
        .update_staff(&promoted, &staff_change("admin", 20, "promotion"))
        .await
        .unwrap();
    for token in [1, 2] {
        assert!(
            store
                .get_session(&[token; 32], t(30))
                .await
                .unwrap_err()
                .is_not_found(),
            "kim's session {token} ended"
        );
    }
    assert_eq!(
        store.get_session(&[3; 32], t(30)).await.unwrap().username,
        "lee",
        "another account's session lives on"
    );
    let audit = store.list_audit(0, 100).await.unwrap();
    let updated = audit
        .iter()
        .find(|e| e.action == "staff.updated")
        .expect("staff.updated audited");
    assert!(
        updated.detail.contains("\"sessions_ended\":2"),
        "{}",
        updated.detail
    );
    assert_eq!(store.get_staff("kim").await.unwrap(), promoted);
    assert!(
        store
            .update_staff(
                &staff("nobody", Role::Admin),
                &staff_change("admin", 40, "x")
            )
            .await
            .unwrap_err()
            .is_not_found()
    );
}

/// The scheduled purge forgets nonces first seen before the cut-off (a replay that old is refused by the clock
/// window anyway) and sessions expired by now; younger nonces still refuse a replay and live sessions still work.
pub(crate) async fn purges_forget_only_old_nonces_and_expired_sessions<S: TestStore>() {
    let (store, _guard) = S::fresh().await;
    let device = DeviceId::new_v4();
    let old = alert(device, 0);
    let young = alert(device, 10_000);
    accept_one(&store, old).await;
    accept_one(&store, young.clone()).await;
    assert_eq!(
        store.purge_nonces(t(5_000)).await.unwrap(),
        1,
        "only the old nonce"
    );
    let replay = crate::NewAlert {
        nonce: young.nonce.clone(),
        ..alert(device, 11_000)
    };
    assert!(matches!(
        store.record_alerts(vec![replay]).await.unwrap()[0],
        Err(Error::Conflict(Conflict::NonceReplayed))
    ));
    assert_eq!(store.purge_nonces(t(5_000)).await.unwrap(), 0, "idempotent");

    store
        .create_staff(
            &staff("kim", Role::Dispatcher),
            &staff_change("admin", 0, "hire"),
        )
        .await
        .unwrap();
    for (token, expires) in [(1, 100), (2, 200), (3, 10_000)] {
        store
            .create_session(
                &session(token, "kim", Role::Dispatcher, expires),
                &staff_change("kim", 10, "login"),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.purge_sessions(t(200)).await.unwrap(), 2);
    assert_eq!(store.purge_sessions(t(200)).await.unwrap(), 0);
    assert_eq!(
        store.get_session(&[3; 32], t(300)).await.unwrap().username,
        "kim",
        "the live session survives the purge"
    );
}
