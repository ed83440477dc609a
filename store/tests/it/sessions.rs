//! Refresh-token rotation against revocation: whatever the interleaving, once a revocation has
//! committed no token of the user (or of the family) rotates again.

use std::sync::Arc;

use store::{
    accounts,
    audit::Actor,
    refresh_tokens::{self, Lifetimes, Rotation},
};

use crate::helpers::Tenant;

/// The race is a few round trips wide; this many rounds lost it on every run of the code
/// that locked only the presented token.
const ROUNDS: usize = 60;
const TABS: usize = 3;

#[derive(Clone, Copy, Debug)]
enum Revocation {
    PasswordChange,
    LogoutEverywhere,
    SignOut,
}

async fn revoke(t: &Tenant, how: Revocation, secret: &str) {
    let mut tx = t.tx().await;
    match how {
        Revocation::PasswordChange => accounts::set_password_hash(&mut tx, t.user, "not-a-hash")
            .await
            .unwrap(),
        Revocation::LogoutEverywhere => {
            accounts::log_out_everywhere(&mut tx, &Actor::cli(), t.user)
                .await
                .unwrap()
        }
        Revocation::SignOut => refresh_tokens::sign_out(&mut tx, None, secret)
            .await
            .unwrap(),
    }
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_rotation_in_flight_outlives_a_revocation() {
    let t = Arc::new(Tenant::new().await);
    // Every tab presents the same token: within the grace period each gets a successor.
    let lifetimes = Lifetimes::default();
    let mut survivors = Vec::new();
    let mut late_access = Vec::new();
    for round in 0..ROUNDS {
        let how = [
            Revocation::PasswordChange,
            Revocation::LogoutEverywhere,
            Revocation::SignOut,
        ][round % 3];
        let mut tx = t.tx().await;
        let first = refresh_tokens::start_family(&mut tx, t.user, &lifetimes, None, None)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let tabs: Vec<_> = (0..TABS)
            .map(|_| {
                let (t, secret, lifetimes) = (t.clone(), first.secret.clone(), lifetimes.clone());
                tokio::spawn(async move {
                    let mut tx = t.tx().await;
                    let r = refresh_tokens::rotate(&mut tx, &secret, &lifetimes, None, None)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                    r
                })
            })
            .collect();
        let revocation = {
            let (t, secret) = (t.clone(), first.secret.clone());
            tokio::spawn(async move { revoke(&t, how, &secret).await })
        };
        let mut issued = Vec::new();
        for tab in tabs {
            if let Rotation::Rotated { issued: i, .. } = tab.await.unwrap() {
                issued.push(i);
            }
        }
        revocation.await.unwrap();

        // Access tokens minted from a successor carry its `authenticated_at`: a change that
        // ends sessions must come after every one of them, or they outlive it.
        if !matches!(how, Revocation::SignOut) {
            let mut tx = t.tx().await;
            let after = accounts::get(&mut tx, t.user)
                .await
                .unwrap()
                .sessions_valid_after;
            tx.commit().await.unwrap();
            for i in &issued {
                if i.authenticated_at >= after {
                    late_access.push((round, how));
                }
            }
        }
        // The revocation has committed: every successor handed out must be dead.
        for i in issued {
            let mut tx = t.tx().await;
            let r = refresh_tokens::rotate(&mut tx, &i.secret, &lifetimes, None, None)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            if !matches!(r, Rotation::Invalid) {
                survivors.push((round, how));
            }
        }
    }
    assert!(
        survivors.is_empty(),
        "{} successors outlived the revocation (round, how): {survivors:?}",
        survivors.len()
    );
    assert!(
        late_access.is_empty(),
        "{} successors were authenticated after the change (round, how): {late_access:?}",
        late_access.len()
    );
}
