//! The [`ReplayGuard`] contract: an id is admitted once, however many handles (replicas) ask at
//! the same moment, per scope, and again after it expired.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use grantkit::store::ReplayGuard;

/// Proves a [`ReplayGuard`]: `guards` are two handles on one shared guard (two replicas'
/// connections), `scope` a scope no other test uses. 40 concurrent first uses of one id through
/// both handles admit exactly one; another scope admits the same id once more; another id is
/// new once, through either handle.
pub async fn replay_guard_admits_each_id_once(guards: [Arc<dyn ReplayGuard>; 2], scope: &str) {
    let expires = SystemTime::now() + Duration::from_secs(300);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let guard = guards[i % 2].clone();
        let scope = scope.to_owned();
        tasks.spawn(async move { guard.first_use(&scope, "jti-1", expires).await.unwrap() });
    }
    let mut admitted = 0;
    while let Some(first) = tasks.join_next().await {
        admitted += usize::from(first.unwrap());
    }
    assert_eq!(
        admitted, 1,
        "one of 40 concurrent deliveries of one id is admitted"
    );
    let other_scope = format!("{scope}/other");
    assert!(
        guards[1]
            .first_use(&other_scope, "jti-1", expires)
            .await
            .unwrap(),
        "ids are per scope (issuer)"
    );
    assert!(
        guards[0].first_use(scope, "jti-2", expires).await.unwrap(),
        "another id is new"
    );
    assert!(
        !guards[1].first_use(scope, "jti-2", expires).await.unwrap(),
        "and seen through the other handle"
    );
}
