//! `[jobs_history]` (jobs-domain.md §8.5): the past runs of every scheduled,
//! enabled job over the days before the load, with seeded outcomes, automatic
//! retries of failed runs (§4) and the runs of immediate copy jobs after each
//! source run that wrote points (§6). Ids are derived from the job and the
//! run's creation time, so the same world and anchor give the same history.

use crate::format::JobsHistoryDef;
use crate::history::Rng;
use entman_model::ids::JobId;
use entman_model::job::{Job, JobOutcome, JobType, JobVm};
use entman_model::job_session::{Generation, JobSession, RunRequest, Trigger};
use entman_model::Timestamp;
use uuid::Uuid;

const DAY_MS: i64 = 86_400_000;

/// A run's id: derived from its job, its kind and its creation time.
fn run_id(job: JobId, label: &str, created: Timestamp) -> Uuid {
    Uuid::new_v5(
        &job.0,
        format!("history\u{0}{label}\u{0}{}", created.micros()).as_bytes(),
    )
}

/// The runs of `def` for `jobs`, every one over before `now`, by job; a
/// scheduled run that would overlap one of the `explicit` runs of its job is
/// skipped.
pub fn generate(
    def: &JobsHistoryDef,
    jobs: &[Job],
    explicit: &[JobSession],
    now: Timestamp,
    generation: Generation,
) -> Vec<JobSession> {
    let mut rng = Rng(def.seed ^ 0x0B5E_55ED);
    let from = now.plus_millis(-i64::from(def.days) * DAY_MS);
    let mut runs = Vec::new();
    for job in jobs {
        if !job.schedule_enabled || job.job_type == JobType::ImmediateBackupCopy {
            continue;
        }
        let Some(schedule) = &job.schedule else {
            continue;
        };
        let vms = run_vms(job, jobs);
        let given: Vec<&JobSession> = explicit.iter().filter(|r| r.job_id == job.id).collect();
        let mut busy_until = from;
        let mut due = schedule.next_run_after(from);
        while due < now {
            if due >= busy_until {
                let chain = scheduled_chain(job, &vms, due, now, def, &mut rng, generation);
                let (first, last) = (
                    chain.first().map(|r| r.created),
                    chain.last().map(|r| r.end),
                );
                let overlaps = |r: &&JobSession| {
                    first.is_some_and(|f| r.end > f) && last.is_some_and(|l| r.created < l)
                };
                if !given.iter().any(overlaps) {
                    if let Some(last) = last {
                        busy_until = last;
                    }
                    runs.extend(chain);
                }
            }
            due = schedule.next_run_after(due);
        }
    }
    let copies = immediate_copies(jobs, &runs, now, generation);
    runs.extend(copies);
    runs.retain(|run| run.is_over(now));
    runs
}

/// The VMs a run of `job` processes, owned (outcomes are drawn over them).
fn run_vms(job: &Job, jobs: &[Job]) -> Vec<JobVm> {
    job.run_vms(jobs).into_iter().cloned().collect()
}

/// A drawn outcome for the first attempt of a VM the world lets succeed.
fn draw(vm: &JobVm, def: &JobsHistoryDef, rng: &mut Rng) -> JobVm {
    let mut vm = vm.clone();
    if vm.outcome(0) == JobOutcome::Success {
        let x = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        let drawn = if x < def.failure_rate {
            JobOutcome::Failed
        } else if x < def.failure_rate + def.warning_rate {
            JobOutcome::Warning
        } else {
            JobOutcome::Success
        };
        if drawn != JobOutcome::Success {
            // The draw is this run's first attempt; retries go on as the world says.
            let mut outcomes = vec![drawn];
            outcomes.extend(vm.outcomes.iter().copied().skip(1));
            if outcomes.len() == 1 {
                outcomes.push(JobOutcome::Success);
            }
            vm.outcomes = outcomes;
            vm.reasons = Vec::new();
        }
    }
    vm
}

/// A scheduled run and its automatic retries, each after the one before ended.
fn scheduled_chain(
    job: &Job,
    vms: &[JobVm],
    due: Timestamp,
    now: Timestamp,
    def: &JobsHistoryDef,
    rng: &mut Rng,
    generation: Generation,
) -> Vec<JobSession> {
    let drawn: Vec<JobVm> = vms.iter().map(|vm| draw(vm, def, rng)).collect();
    let all: Vec<(usize, &JobVm, usize)> =
        drawn.iter().enumerate().map(|(i, v)| (i, v, 0)).collect();
    let first = JobSession::create(RunRequest {
        id: run_id(job.id, "schedule", due),
        job,
        vms: &all,
        created: due,
        scale: 1.0,
        trigger: Trigger::Schedule,
        generation,
    });
    let mut chain = vec![first];
    for attempt in 1..=job.retry.times as usize {
        let last = chain.last().expect("the chain has its first run");
        let failed = last.failed_positions();
        if failed.is_empty() {
            break;
        }
        let at = last
            .end
            .plus_millis(i64::from(job.retry.timeout_minutes) * 60_000);
        if at >= now {
            break;
        }
        let retried: Vec<(usize, &JobVm, usize)> =
            failed.iter().map(|&i| (i, &drawn[i], attempt)).collect();
        chain.push(JobSession::create(RunRequest {
            id: run_id(job.id, "retry", at),
            job,
            vms: &retried,
            created: at,
            scale: 1.0,
            trigger: Trigger::AutoRetry,
            generation,
        }));
    }
    chain
}

/// The runs of immediate copy jobs: one when a run of a source job that wrote a
/// point ends, unless the copy job's previous run is still going.
fn immediate_copies(
    jobs: &[Job],
    runs: &[JobSession],
    now: Timestamp,
    generation: Generation,
) -> Vec<JobSession> {
    let mut copies = Vec::new();
    for job in jobs {
        if job.job_type != JobType::ImmediateBackupCopy || !job.schedule_enabled {
            continue;
        }
        let vms = run_vms(job, jobs);
        let all: Vec<(usize, &JobVm, usize)> =
            vms.iter().enumerate().map(|(i, v)| (i, v, 0)).collect();
        let mut triggers: Vec<Timestamp> = runs
            .iter()
            .filter(|run| job.source_jobs.iter().any(|l| l.job == run.job_id))
            .filter(|run| run.points_at(run.end).next().is_some())
            .map(|run| run.end)
            .filter(|end| *end < now)
            .collect();
        triggers.sort();
        let mut busy_until = Timestamp::from_micros(i64::MIN / 2);
        for at in triggers {
            if at < busy_until {
                continue;
            }
            let run = JobSession::create(RunRequest {
                id: run_id(job.id, "copy", at),
                job,
                vms: &all,
                created: at,
                scale: 1.0,
                trigger: Trigger::Schedule,
                generation,
            });
            busy_until = run.end;
            copies.push(run);
        }
    }
    copies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_jobs(now: Timestamp) -> Vec<Job> {
        let world = crate::parse(crate::DEMO_WORLD).unwrap();
        crate::build(&world, now).unwrap().jobs
    }

    fn def() -> JobsHistoryDef {
        JobsHistoryDef {
            days: 35,
            seed: 7,
            warning_rate: 0.05,
            failure_rate: 0.05,
        }
    }

    #[test]
    fn runs_follow_schedules_never_overlap_and_are_over() {
        let now = Timestamp::parse("2026-06-24T12:00:00Z").unwrap();
        let jobs = demo_jobs(now);
        let runs = generate(&def(), &jobs, &[], now, Generation::Em12);
        assert!(runs.len() > 100, "{} runs", runs.len());
        for job in &jobs {
            let mut mine: Vec<&JobSession> = runs.iter().filter(|r| r.job_id == job.id).collect();
            mine.sort_by_key(|r| r.created);
            for pair in mine.windows(2) {
                assert!(pair[0].end <= pair[1].created, "{} overlaps", job.name);
            }
        }
        assert!(runs.iter().all(|r| r.is_over(now)));
        assert!(runs
            .iter()
            .all(|r| r.created >= now.plus_millis(-35 * DAY_MS)));
        // The gateway job's cg02 fails first: every scheduled run of it is retried.
        assert!(runs.iter().any(JobSession::is_retry));
        // Immediate copies follow the infrastructure backups.
        let copy = jobs
            .iter()
            .find(|j| j.job_type == JobType::ImmediateBackupCopy)
            .unwrap();
        assert!(runs.iter().any(|r| r.job_id == copy.id));
    }

    #[test]
    fn a_scheduled_run_that_overlaps_an_explicit_one_is_skipped() {
        let now = Timestamp::parse("2026-06-24T12:00:00Z").unwrap();
        let jobs = demo_jobs(now);
        let runs = generate(&def(), &jobs, &[], now, Generation::Em12);
        let mut given = runs[0].clone();
        given.id = Uuid::new_v4();
        let again = generate(&def(), &jobs, &[given.clone()], now, Generation::Em12);
        assert!(!again
            .iter()
            .any(|r| r.job_id == given.job_id && r.created == given.created));
        assert!(again.len() < runs.len());
    }

    #[test]
    fn the_same_seed_and_anchor_give_the_same_history() {
        let now = Timestamp::parse("2026-06-24T12:00:00Z").unwrap();
        let jobs = demo_jobs(now);
        let a = generate(&def(), &jobs, &[], now, Generation::Em12);
        let b = generate(&def(), &jobs, &[], now, Generation::Em12);
        assert_eq!(a, b);
    }
}
