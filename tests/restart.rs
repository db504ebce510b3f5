//! The PostgreSQL server restarted under a running worker: the local cluster is
//! stopped fast (every connection cut, open transactions rolled back) and started a
//! second later by `scripts/restart-postgres.sh`; the worker fails retryably and the
//! next invocation finishes the run exactly.
//!
//! Its own test binary, holding this one test: cargo runs test binaries one at a time,
//! so no other test is using the server while it is down. (A runner that runs binaries
//! in parallel, such as nextest, must run this one alone.)
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::time::{Duration, SystemTime};

use cogs_tests::TestDb;
use cogs_tests::outage::a_worker_survives;

#[tokio::test]
async fn a_server_restart_under_a_worker_fails_it_retryably_and_the_run_resumes() {
    let db = TestDb::new().await;
    let started_at = server_started_at(&db).await;
    let restart = async |_: &tokio::sync::Notify| {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let script = cogs_tests::repo_root().join("scripts/restart-postgres.sh");
        let status =
            tokio::task::spawn_blocking(move || std::process::Command::new(&script).arg("1").status().unwrap())
                .await
                .unwrap();
        assert!(status.success(), "scripts/restart-postgres.sh failed: {status}");
    };
    a_worker_survives(&db, restart).await;
    assert!(server_started_at(&db).await > started_at, "the server really restarted");
}

async fn server_started_at(db: &TestDb) -> SystemTime {
    db.app().await.query_one("select pg_postmaster_start_time()", &[]).await.unwrap().get(0)
}
