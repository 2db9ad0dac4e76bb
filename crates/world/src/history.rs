//! Generated history: finished failover sessions spread over past days, with mixed
//! results, produced deterministically from a seed.

use crate::format::HistoryDef;
use entman_model::ids::SessionId;
use entman_model::plan::Plan;
use entman_model::replica::VmReplicaPoint;
use entman_model::session::{
    FailoverSession, PointRef, SessionKind, SessionResult, SessionState, SessionTask,
};
use entman_model::Timestamp;

/// Messages a provider shows for VMs that finished with a warning.
const WARNINGS: &[&str] = &[
    "Network reconfiguration skipped: no production network mapping.",
    "VMware Tools heartbeat was not received within the allotted time.",
    "Public IP address rule could not be applied: no free public IP addresses.",
    "Guest OS did not respond to the ping test.",
];

/// Messages a provider shows for VMs whose failover failed.
const FAILURES: &[&str] = &[
    "Failed to power on the replica VM: not enough memory on the host.",
    "Failed to connect to the network extension appliance.",
    "Failed to register the replica VM: the datastore is not accessible.",
    "Operation timed out while waiting for the replica VM to start.",
];

/// A small deterministic generator (SplitMix64); quality is ample for demo data.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// Generates the sessions of `def` for `plans`, newest at most a day before `now`.
pub fn generate(
    def: &HistoryDef,
    plans: &[Plan],
    points: &[VmReplicaPoint],
    now: Timestamp,
) -> Vec<FailoverSession> {
    sessions(def, plans, points, now).collect()
}

/// The sessions of `def`, one at a time (large histories need not fit in memory).
pub fn sessions<'a>(
    def: &'a HistoryDef,
    plans: &'a [Plan],
    points: &'a [VmReplicaPoint],
    now: Timestamp,
) -> impl Iterator<Item = FailoverSession> + 'a {
    let mut rng = Rng(def.seed ^ 0x5EED);
    let span_ms = i64::from(def.days.max(1)) * 86_400_000;
    let n = i64::from(def.sessions);
    let count = if plans.is_empty() { 0 } else { n };
    (0..count).map(move |i| {
        let plan = &plans[rng.below(plans.len() as u64) as usize];
        // Evenly spread, newest first in generation order, with up to 6 hours of jitter.
        let offset = span_ms * (i * 2 + 1) / (n * 2) + rng.below(6 * 3_600_000) as i64;
        let created = now.plus_millis(-offset.min(span_ms).max(86_400_000));
        let kind = if rng.below(4) == 0 {
            SessionKind::Test
        } else {
            SessionKind::Start
        };
        let id = time_ordered_id(created, &mut rng);
        session(plan, points, created, kind, id, &mut rng)
    })
}

/// A version 7 UUID (RFC 9562): the creation time's milliseconds first, then
/// seeded random bits. A history's keys then follow its time order, so a bulk
/// load writes each primary-key B-tree at one end instead of on random pages.
fn time_ordered_id(created: Timestamp, rng: &mut Rng) -> SessionId {
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&rng.next().to_le_bytes());
    random[8..].copy_from_slice(&rng.next().to_le_bytes()[..2]);
    let millis = u64::try_from(created.micros() / 1000).unwrap_or(0);
    SessionId(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
}

fn session(
    plan: &Plan,
    points: &[VmReplicaPoint],
    created: Timestamp,
    kind: SessionKind,
    id: SessionId,
    rng: &mut Rng,
) -> FailoverSession {
    let mut clock = created.plus_millis(4_000 + rng.below(2_000) as i64);
    let mut tasks = Vec::new();
    for vm in &plan.vms {
        let start = clock;
        let point = points
            .iter()
            .filter(|p| {
                p.replica_id == vm.replica_id && p.vm_name == vm.name && p.creation_time < created
            })
            .max_by_key(|p| p.creation_time);
        let duration = 20_000 + rng.below(160_000) as i64;
        let end = start.plus_millis(duration);
        clock = start.plus_millis(10 + rng.below(50) as i64);
        let (result, message) = match (point, rng.below(100)) {
            (None, _) => (
                SessionResult::Failed,
                Some(format!(
                    "No restore point created before {created} was found for VM {}.",
                    vm.name
                )),
            ),
            (Some(_), 0..=7) => (
                SessionResult::Failed,
                Some(FAILURES[rng.below(FAILURES.len() as u64) as usize].to_string()),
            ),
            (Some(_), 8..=19) => (
                SessionResult::Warning,
                Some(WARNINGS[rng.below(WARNINGS.len() as u64) as usize].to_string()),
            ),
            _ => (SessionResult::Success, None),
        };
        tasks.push(SessionTask {
            vm_name: vm.name.clone(),
            point: point.map(|p| PointRef {
                id: p.id,
                name: p.name(),
            }),
            creation_time: start,
            end_time: Some(end),
            state: SessionState::Stopped,
            result,
            progress: 100,
            failure_message: message,
            plan: None,
        });
    }
    let result = FailoverSession::aggregate_result(&tasks);
    let end = tasks
        .iter()
        .filter_map(|t| t.end_time)
        .max()
        .unwrap_or(clock)
        .plus_millis(1_500);
    let failure_message = match result {
        SessionResult::Failed => tasks
            .iter()
            .find(|t| t.result == SessionResult::Failed)
            .and_then(|t| t.failure_message.clone()),
        _ => None,
    };
    FailoverSession {
        id,
        plan_id: plan.id,
        plan_name: plan.name.clone(),
        tenant_id: plan.tenant_id,
        backup_server_id: plan.backup_server_id,
        kind,
        creation_time: created,
        end_time: Some(end),
        state: SessionState::Stopped,
        result,
        progress: 100,
        failure_message,
        tasks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(seed: u64) -> Vec<FailoverSession> {
        let world = crate::demo_world();
        let now = Timestamp::parse("2026-11-28T12:00:00Z").unwrap();
        let built = crate::build(&world, now).unwrap();
        let def = HistoryDef {
            sessions: 500,
            days: 30,
            seed,
        };
        generate(&def, &built.plans, &built.points, now)
    }

    #[test]
    fn session_ids_are_version_7_guids_in_the_order_of_their_creation_times() {
        let sessions = history(7);
        for s in &sessions {
            assert_eq!(s.id.0.get_version_num(), 7, "{}", s.id);
            assert_eq!(s.id.0.get_variant(), uuid::Variant::RFC4122);
            let (secs, nanos) = s.id.0.get_timestamp().unwrap().to_unix();
            let millis = i64::try_from(secs).unwrap() * 1000 + i64::from(nanos / 1_000_000);
            assert_eq!(millis, s.creation_time.micros() / 1000);
        }
        let mut by_time = sessions.clone();
        by_time.sort_by_key(|s| (s.creation_time, s.id));
        let mut by_id = sessions.clone();
        by_id.sort_by_key(|s| s.id);
        assert_eq!(by_id, by_time, "the id order is the time order");
        // As stored: the hyphenated text sorts as the bytes do.
        let mut texts: Vec<String> = by_id.iter().map(|s| s.id.to_string()).collect();
        let stored = texts.clone();
        texts.sort();
        assert_eq!(texts, stored);
    }

    #[test]
    fn the_same_seed_gives_the_same_history_and_another_seed_other_ids() {
        assert_eq!(history(3), history(3));
        let ids = |h: Vec<FailoverSession>| h.into_iter().map(|s| s.id).collect::<Vec<_>>();
        let (a, b) = (ids(history(3)), ids(history(4)));
        assert!(a.iter().all(|id| !b.contains(id)));
    }
}
