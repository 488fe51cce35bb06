use std::collections::BTreeMap;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use store::Clock;
use store::jobs::{Failed, Job, JobState, QueueConfig, Retry};

use crate::harness::{Harness, both};

both!(
    claims_hand_out_due_jobs_with_their_payload,
    concurrent_claimers_never_share_a_job,
    an_expired_lease_lets_another_worker_claim,
    failures_back_off_then_dead_letter_with_the_reason,
    waiting_jobs_with_one_key_are_one_job,
    a_worker_lost_on_the_last_attempt_dead_letters_the_job,
);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Ping {
    n: u32,
}

impl Job for Ping {
    const KIND: &'static str = "test.ping";
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Refresh {
    key: String,
    version: u32,
}

impl Job for Refresh {
    const KIND: &'static str = "test.refresh";

    fn dedup_key(&self) -> Option<String> {
        Some(self.key.clone())
    }
}

async fn claims_hand_out_due_jobs_with_their_payload(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let mut t = h.store.tenant(tenant);
    let now_id = t.enqueue(&Ping { n: 1 }).await.unwrap();
    let later = h.clock.now() + TimeDelta::minutes(10);
    let later_id = t.enqueue_at(&Ping { n: 2 }, later).await.unwrap();

    let claimed = h.store.claim_jobs("w1", &[], 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let job = &claimed[0];
    assert_eq!(
        (job.id, job.tenant, job.kind.as_str()),
        (now_id, tenant, "test.ping")
    );
    assert_eq!(job.decode::<Ping>().unwrap(), Ping { n: 1 });
    assert_eq!(job.attempt, 1);
    assert!(job.decode::<Refresh>().is_err());
    let stats = h.store.queue_stats().await.unwrap();
    assert_eq!((stats.queued, stats.running, stats.dead), (1, 1, 0));
    assert_eq!(stats.oldest_queued_at, Some(h.clock.now()));
    assert!(h.store.complete_job(job).await.unwrap());

    h.clock.advance(TimeDelta::minutes(10));
    // Other kinds only: nothing.
    assert!(
        h.store
            .claim_jobs("w1", &["other"], 10)
            .await
            .unwrap()
            .is_empty()
    );
    let second = h.store.claim_jobs("w1", &["test.ping"], 10).await.unwrap();
    assert_eq!(second.iter().map(|j| j.id).collect::<Vec<_>>(), [later_id]);
    assert!(h.store.complete_job(&second[0]).await.unwrap());
    assert!(t.jobs(None, 10).await.unwrap().is_empty());
    assert!(h.store.claim_jobs("w1", &[], 10).await.unwrap().is_empty());
}

async fn concurrent_claimers_never_share_a_job(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let mut t = h.store.tenant(tenant).begin().await.unwrap();
    for n in 0..300 {
        t.enqueue(&Ping { n }).await.unwrap();
    }
    t.commit().await.unwrap();
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let store = h.store.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let jobs = store.claim_jobs(&format!("w{w}"), &[], 7).await.unwrap();
                    if jobs.is_empty() {
                        return seen;
                    }
                    for job in jobs {
                        seen.push(job.decode::<Ping>().unwrap().n);
                        assert!(store.complete_job(&job).await.unwrap());
                    }
                }
            })
        })
        .collect();
    let mut claims: BTreeMap<u32, usize> = BTreeMap::new();
    let mut busy_workers = 0;
    for worker in workers {
        let seen = worker.await.unwrap();
        busy_workers += usize::from(!seen.is_empty());
        for n in seen {
            *claims.entry(n).or_default() += 1;
        }
    }
    assert_eq!(claims.len(), 300, "every job was claimed");
    assert!(claims.values().all(|&c| c == 1), "no job was claimed twice");
    assert!(busy_workers > 1, "the work was shared");
    assert_eq!(h.store.queue_stats().await.unwrap().running, 0);
}

async fn an_expired_lease_lets_another_worker_claim(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    h.store
        .tenant(tenant)
        .enqueue(&Ping { n: 7 })
        .await
        .unwrap();
    let lease = QueueConfig::default().lease;
    let mut first = h.store.claim_jobs("w1", &[], 1).await.unwrap().remove(0);

    // A heartbeat keeps it: past the first lease but within the extended one, nobody else gets it.
    h.clock.advance(lease - TimeDelta::seconds(1));
    assert!(h.store.extend_lease(&mut first).await.unwrap());
    h.clock.advance(TimeDelta::seconds(2));
    assert!(h.store.claim_jobs("w2", &[], 1).await.unwrap().is_empty());

    // Without heartbeats the lease runs out and another worker takes over.
    h.clock.advance(lease);
    let second = h.store.claim_jobs("w2", &[], 1).await.unwrap().remove(0);
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempt, 2);
    let info = h.store.tenant(tenant).job(first.id).await.unwrap().unwrap();
    assert_eq!(info.worker.as_deref(), Some("w2"));
    // The first worker has lost it: its heartbeat, completion and failure change nothing.
    assert!(!h.store.extend_lease(&mut first).await.unwrap());
    assert!(!h.store.complete_job(&first).await.unwrap());
    assert_eq!(
        h.store
            .fail_job(&first, "late", Retry::Backoff)
            .await
            .unwrap(),
        Failed::LeaseLost
    );
    assert!(h.store.complete_job(&second).await.unwrap());
}

async fn failures_back_off_then_dead_letter_with_the_reason(h: Harness) {
    let config = QueueConfig::default();
    let tenant = h.tenant("Acme", 1).await;
    let mut t = h.store.tenant(tenant);
    let id = t.enqueue(&Ping { n: 1 }).await.unwrap();
    for attempt in 1..config.max_attempts {
        let job = h.store.claim_jobs("w", &[], 1).await.unwrap().remove(0);
        assert_eq!(job.attempt, attempt);
        let expected = h.clock.now() + config.backoff(attempt);
        assert_eq!(
            h.store
                .fail_job(
                    &job,
                    &format!("HTTP 503 on attempt {attempt}"),
                    Retry::Backoff
                )
                .await
                .unwrap(),
            Failed::RetryAt(expected)
        );
        // Not before its time.
        h.clock
            .advance(config.backoff(attempt) - TimeDelta::milliseconds(1));
        assert!(h.store.claim_jobs("w", &[], 1).await.unwrap().is_empty());
        h.clock.advance(TimeDelta::milliseconds(1));
    }
    let last = h.store.claim_jobs("w", &[], 1).await.unwrap().remove(0);
    assert!(last.is_last_attempt());
    assert_eq!(
        h.store
            .fail_job(&last, "HTTP 503 again", Retry::Backoff)
            .await
            .unwrap(),
        Failed::DeadLettered
    );
    h.clock.advance(TimeDelta::days(1));
    assert!(h.store.claim_jobs("w", &[], 1).await.unwrap().is_empty());
    let dead = t.jobs(Some(JobState::Dead), 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 503 again"));
    assert_eq!(dead[0].attempts, config.max_attempts);
    assert_eq!(h.store.queue_stats().await.unwrap().dead, 1);

    // An admin requeues it: a fresh set of attempts.
    t.requeue_dead_job(id).await.unwrap();
    let again = h.store.claim_jobs("w", &[], 1).await.unwrap().remove(0);
    assert_eq!((again.id, again.attempt), (id, 1));
    assert!(matches!(
        t.requeue_dead_job(id).await,
        Err(store::StoreError::NotFound(_))
    ));

    // A permanent failure dead-letters at once; a Retry-After time is honoured.
    assert_eq!(
        h.store
            .fail_job(&again, "400 Bad Request", Retry::Never)
            .await
            .unwrap(),
        Failed::DeadLettered
    );
    t.enqueue(&Ping { n: 2 }).await.unwrap();
    let job = h.store.claim_jobs("w", &[], 1).await.unwrap().remove(0);
    let at = h.clock.now() + TimeDelta::seconds(42);
    assert_eq!(
        h.store.fail_job(&job, "429", Retry::At(at)).await.unwrap(),
        Failed::RetryAt(at)
    );
}

async fn waiting_jobs_with_one_key_are_one_job(h: Harness) {
    let tenant = h.tenant("Acme", 1).await;
    let mut t = h.store.tenant(tenant);
    let refresh = |version| Refresh {
        key: "account-1".into(),
        version,
    };
    let later = h.clock.now() + TimeDelta::minutes(5);
    let first = t.enqueue_at(&refresh(1), later).await.unwrap();
    let second = t.enqueue(&refresh(2)).await.unwrap();
    assert_eq!(first, second);
    let queued = t.jobs(Some(JobState::Queued), 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    // The newest payload, and the earlier time.
    let running = h.store.claim_jobs("w", &[], 10).await.unwrap();
    assert_eq!(running.len(), 1);
    assert_eq!(running[0].decode::<Refresh>().unwrap(), refresh(2));

    // Once it runs, a new change needs a new job: the running one may have read too early.
    let third = t.enqueue(&refresh(3)).await.unwrap();
    assert_ne!(third, first);
    // The running one fails: the waiting one will do the work, so the failed one goes.
    assert_eq!(
        h.store
            .fail_job(&running[0], "boom", Retry::Backoff)
            .await
            .unwrap(),
        Failed::Superseded
    );
    let left = t.jobs(None, 10).await.unwrap();
    assert_eq!(left.iter().map(|j| j.id).collect::<Vec<_>>(), [third]);
    // Jobs of another tenant never merge with these.
    let other = h.tenant("Globex", 1).await;
    let foreign = h.store.tenant(other).enqueue(&refresh(4)).await.unwrap();
    assert_ne!(foreign, third);
}

async fn a_worker_lost_on_the_last_attempt_dead_letters_the_job(h: Harness) {
    let config = QueueConfig::default();
    let tenant = h.tenant("Acme", 1).await;
    let id = h
        .store
        .tenant(tenant)
        .enqueue(&Ping { n: 1 })
        .await
        .unwrap();
    for _ in 0..config.max_attempts {
        let job = h.store.claim_jobs("w", &[], 1).await.unwrap();
        assert_eq!(job.len(), 1);
        // The worker dies: nobody completes or fails the job.
        h.clock.advance(config.lease);
    }
    assert!(h.store.claim_jobs("w", &[], 1).await.unwrap().is_empty());
    let dead = h.store.tenant(tenant).job(id).await.unwrap().unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert!(dead.last_error.unwrap().contains("lease expired"));
}
