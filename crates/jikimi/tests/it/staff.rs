//! `jikimi staff add` refuses what `POST /api/staff` refuses: both go through `auth::new_staff_user`, the one
//! validation of staff accounts (issue 17: the command line used to store any user name and password).

use crate::process::Site;

#[test]
fn staff_add_refuses_what_the_api_refuses() {
    let site = Site::new();
    let add = |username: &str, password: &str| {
        site.run(
            &[
                "staff",
                "add",
                "--username",
                username,
                "--role",
                "dispatcher",
            ],
            &[("JIKIMI_STAFF_PASSWORD", password)],
        )
    };
    let (ok, text) = add("kim", "short");
    assert!(!ok, "a 5-character password was accepted: {text}");
    assert!(text.contains("password: at least 8 characters"), "{text}");
    let (ok, text) = add("kim lee", "long enough password");
    assert!(!ok, "a user name with a space was accepted: {text}");
    assert!(
        text.contains("username: 1 to 64 characters [A-Za-z0-9._-]"),
        "{text}"
    );
    let (ok, text) = add(&"k".repeat(65), "long enough password");
    assert!(!ok, "a 65-character user name was accepted: {text}");
    let (ok, text) = add("kim", "long enough password");
    assert!(ok, "a valid account was refused: {text}");
}
