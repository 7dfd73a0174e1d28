//! Users, API tokens and the generated server secret.

use gazette::store::StoreError;
use gazette::store::users::Role;

use super::fresh_store;
use crate::helpers::Backend;

async fn users_are_stored_found_and_listed(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let users = store.users();
    let desk = users
        .insert("desk@example.org", "$argon2id$desk", Role::Editor, 1_000)
        .await
        .unwrap();
    assert_eq!(
        (desk.email.as_str(), desk.role, desk.created_at),
        ("desk@example.org", Role::Editor, 1_000)
    );
    assert_eq!(desk.password_hash, "$argon2id$desk");
    assert_eq!((desk.last_login_at, desk.session_version), (None, 1));
    let taken = users
        .insert("desk@example.org", "$argon2id$x", Role::Admin, 2_000)
        .await
        .unwrap_err();
    assert!(taken.is_unique_violation(), "{taken}");
    let chief = users
        .insert("chief@example.org", "$argon2id$chief", Role::Admin, 3_000)
        .await
        .unwrap();
    assert_eq!(
        users
            .by_email("desk@example.org")
            .await
            .unwrap()
            .unwrap()
            .id,
        desk.id
    );
    assert!(
        users
            .by_email("nobody@example.org")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        users.by_id(chief.id).await.unwrap().unwrap().email,
        "chief@example.org"
    );
    assert!(users.by_id(chief.id + 100).await.unwrap().is_none());
    let emails: Vec<String> = users
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(
        emails,
        ["chief@example.org", "desk@example.org"],
        "by address"
    );
    users.record_login(desk.id, 5_000).await.unwrap();
    assert_eq!(
        users.by_id(desk.id).await.unwrap().unwrap().last_login_at,
        Some(5_000)
    );
}

async fn password_and_session_changes_bump_the_session_version(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let users = store.users();
    let desk = users
        .insert("desk@example.org", "$argon2id$old", Role::Editor, 1)
        .await
        .unwrap();
    let changed = users
        .set_password(desk.id, "$argon2id$new")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (changed.password_hash.as_str(), changed.session_version),
        ("$argon2id$new", 2)
    );
    let ended = users.end_sessions(desk.id).await.unwrap().unwrap();
    assert_eq!(ended.session_version, 3);
    assert!(
        users
            .set_password(desk.id + 1, "x")
            .await
            .unwrap()
            .is_none()
    );
    assert!(users.end_sessions(desk.id + 1).await.unwrap().is_none());
}

async fn the_last_admin_stays_an_admin(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let users = store.users();
    let chief = users
        .insert("chief@example.org", "h", Role::Admin, 1)
        .await
        .unwrap();
    let desk = users
        .insert("desk@example.org", "h", Role::Editor, 1)
        .await
        .unwrap();
    // the only admin can neither be demoted nor removed
    assert!(
        users
            .set_role_keeping_an_admin(chief.id, Role::Editor)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!users.delete_keeping_an_admin(chief.id).await.unwrap());
    // with a second admin both can
    let promoted = users
        .set_role_keeping_an_admin(desk.id, Role::Admin)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((promoted.role, promoted.session_version), (Role::Admin, 2));
    let demoted = users
        .set_role_keeping_an_admin(chief.id, Role::Editor)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(demoted.role, Role::Editor);
    assert!(users.delete_keeping_an_admin(chief.id).await.unwrap());
    assert!(users.by_id(chief.id).await.unwrap().is_none());
    assert!(
        !users.delete_keeping_an_admin(desk.id).await.unwrap(),
        "now the last admin"
    );
    assert!(
        users
            .set_role_keeping_an_admin(desk.id + 50, Role::Admin)
            .await
            .unwrap()
            .is_none()
    );
}

async fn api_tokens_are_found_by_hash_used_and_revoked(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let tokens = store.api_tokens();
    assert!(!tokens.active_name_taken("cms").await.unwrap());
    let cms = tokens.insert("cms", "hash-cms", 10).await.unwrap();
    assert_eq!((cms.name.as_str(), cms.created_at), ("cms", 10));
    assert_eq!((cms.last_used_at, cms.revoked_at), (None, None));
    assert!(tokens.active_name_taken("cms").await.unwrap());
    let script = tokens.insert("script", "hash-script", 20).await.unwrap();
    let same_hash: Result<_, StoreError> = tokens.insert("other", "hash-cms", 30).await;
    assert!(same_hash.unwrap_err().is_unique_violation());
    assert_eq!(
        tokens.active_by_hash("hash-cms").await.unwrap().unwrap().id,
        cms.id
    );
    assert!(tokens.active_by_hash("hash-none").await.unwrap().is_none());
    tokens.record_use(cms.id, 40).await.unwrap();
    assert_eq!(
        tokens
            .active_by_hash("hash-cms")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(40)
    );
    let revoked = tokens.revoke_named("cms", 50).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(50));
    assert!(tokens.active_by_hash("hash-cms").await.unwrap().is_none());
    assert!(
        !tokens.active_name_taken("cms").await.unwrap(),
        "a revoked name is free"
    );
    assert!(
        tokens.revoke_named("cms", 60).await.unwrap().is_none(),
        "only active ones"
    );
    assert_eq!(
        tokens
            .revoke_id(script.id, 70)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(70)
    );
    assert!(tokens.revoke_id(script.id, 80).await.unwrap().is_none());
    let all: Vec<i64> = tokens.all().await.unwrap().iter().map(|t| t.id).collect();
    assert_eq!(all, [cms.id, script.id], "revoked ones too, oldest first");
}

/// The server secret generated once and shared by every instance.
async fn a_generated_secret_is_made_once(backend: Backend) {
    let (_db, store) = fresh_store(backend).await;
    let first = store.secret("link_signing_key").await.unwrap();
    assert_eq!(first.len(), 64, "256 bits in hex");
    assert_eq!(store.secret("link_signing_key").await.unwrap(), first);
    assert_ne!(store.secret("another").await.unwrap(), first);
}

crate::both_databases!(
    a_generated_secret_is_made_once,
    users_are_stored_found_and_listed,
    password_and_session_changes_bump_the_session_version,
    the_last_admin_stays_an_admin,
    api_tokens_are_found_by_hash_used_and_revoked,
);
