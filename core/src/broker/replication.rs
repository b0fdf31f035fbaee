//! Replication inside the embedded broker: followers copy every batch the leader appends, the high
//! watermark is the end of what every in-sync replica has, and stopping a leader SPU hands leadership
//! to an in-sync follower (which has every committed record). Copies are asynchronous: a
//! read-uncommitted acknowledgement may precede them (and be lost in a failover); a read-committed one
//! waits for the high watermark.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::state::{BrokerState, Change, Partition};
use crate::protocol::sc::MSG_UPDATE;

/// Copies what followers miss, maintains the in-sync set and the high watermark. Returns whether the
/// high watermark moved.
pub fn sync_followers(st: &BrokerState, p: &Partition) -> bool {
    if p.replicas.len() < 2 || p.deleted.load(Ordering::SeqCst) {
        return false;
    }
    let leader = p.leader();
    let leader_leo = p.log().leo();
    let mut isr = p.isr();
    let paused = st.replication_paused.load(Ordering::SeqCst);
    for r in p.replicas.iter().filter(|r| r.spu != leader) {
        if !st.spu_online(r.spu) {
            isr.retain(|s| *s != r.spu);
            continue;
        }
        if !paused {
            let from = r.log.lock().unwrap().leo();
            if from < leader_leo {
                // Read from the leader, then write to the follower: never both locks at once.
                let mut batches: Vec<Vec<u8>> =
                    p.log().batches(from).into_iter().map(|b| b.bytes).collect();
                let mut log = r.log.lock().unwrap();
                if let Err(e) = log
                    .append(&mut batches, &st.storage)
                    .and_then(|_| log.sync(&st.storage, false))
                {
                    tracing::error!(topic = %p.topic, partition = p.index, spu = r.spu, "replication failed: {e}");
                }
            }
        }
        let leo = r.log.lock().unwrap().leo();
        if leo >= leader_leo && !isr.contains(&r.spu) {
            isr.push(r.spu);
        }
    }
    if !isr.contains(&leader) {
        isr.push(leader);
    }
    let hw = isr
        .iter()
        .filter_map(|s| p.replica(*s))
        .map(|r| {
            if r.spu == leader {
                leader_leo
            } else {
                r.log.lock().unwrap().leo()
            }
        })
        .min()
        .unwrap_or(leader_leo);
    p.set_isr(isr);
    p.hw.send_if_modified(|v| {
        let moved = *v != hw;
        *v = hw;
        moved
    })
}

/// The broker-wide replication task: runs on every append (and periodically, so a restarted follower
/// catches up and rejoins the in-sync set).
pub async fn run(weak: Weak<BrokerState>, wake: Arc<tokio::sync::Notify>) {
    loop {
        let _ = crate::runtime::timeout(Duration::from_millis(50), wake.notified()).await;
        let Some(st) = weak.upgrade() else { return };
        let partitions: Vec<Arc<Partition>> = {
            let topics = st.topics.read().unwrap();
            topics
                .values()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .filter(|p| p.replicas.len() > 1)
                        .cloned()
                })
                .collect()
        };
        for p in partitions {
            sync_followers(&st, &p);
        }
    }
}

/// An SPU stopped: every partition it led moves to an in-sync follower on a running SPU (if any), and
/// it leaves every in-sync set. Returns the partitions whose leader changed.
pub fn on_spu_stopped(st: &BrokerState, spu: i32) -> Vec<Arc<Partition>> {
    let partitions: Vec<Arc<Partition>> = st
        .topics
        .read()
        .unwrap()
        .values()
        .flat_map(|t| t.partitions.iter().cloned())
        .collect();
    let mut moved = Vec::new();
    for p in partitions.iter().filter(|p| p.replica(spu).is_some()) {
        let mut isr = p.isr();
        isr.retain(|s| *s != spu);
        let hw = p.high_watermark();
        let stopped = p.replica(spu).expect("filtered");
        if p.leader() == spu {
            let candidate = isr.iter().copied().find(|s| {
                st.spu_online(*s)
                    && p.replica(*s)
                        .is_some_and(|r| r.log.lock().unwrap().leo() >= hw)
            });
            if let Some(new_leader) = candidate {
                let new_leo = p
                    .replica(new_leader)
                    .expect("replica")
                    .log
                    .lock()
                    .unwrap()
                    .leo();
                // Followers ahead of the new leader hold records that were never committed: drop them.
                for r in p
                    .replicas
                    .iter()
                    .filter(|r| r.spu != new_leader && r.spu != spu)
                {
                    let mut log = r.log.lock().unwrap();
                    if log.leo() > new_leo {
                        let _ = log.truncate_to(new_leo);
                    }
                }
                p.set_leader(new_leader);
                // The old leader's records beyond the high watermark were never committed, and the new
                // leader may write different ones at those offsets: they go, so it rejoins as a clean follower.
                let _ = stopped.log.lock().unwrap().truncate_to(hw);
                tracing::info!(topic = %p.topic, partition = p.index, from = spu, to = new_leader, "leader failover");
                p.leo.send_replace(new_leo);
                moved.push(p.clone());
            }
            // Without an in-sync follower the partition waits, offline, for its leader and its data.
        } else {
            // A follower keeps only what is committed; it copies the rest again when it is back.
            let _ = stopped.log.lock().unwrap().truncate_to(hw);
        }
        p.set_isr(isr);
        p.replicate.notify_one();
    }
    moved
}

/// Publishes the metadata of partitions whose leader changed.
pub fn announce(st: &BrokerState, moved: &[Arc<Partition>]) {
    let topics = st.topics.read().unwrap();
    for p in moved {
        if let Some(t) = topics.get(&p.topic) {
            let _ = st
                .changes
                .send(Change::Partition(MSG_UPDATE, st.partition_metadata(t, p)));
        }
    }
}
