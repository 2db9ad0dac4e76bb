//! `[[jobs.sessions]]` (jobs-domain.md §8.4): explicit past runs of a job, kept
//! as given. Each VM names an include of the job (for a copy job, a VM of its
//! source jobs) with its result and processing times; the rest is derived as
//! for any run. Errors name the job and the session.

use crate::format::{JobDef, JobSessionDef};
use crate::{parse_enum, WorldError};
use entman_model::job::{default_reason, Job, JobOutcome, JobType, JobVm};
use entman_model::job_session::{ExplicitRun, ExplicitVm, Generation, JobSession, WORKER_JOB_TYPE};
use entman_model::Timestamp;
use uuid::Uuid;

/// The explicit runs of every job, in file order. `jobs` are the built jobs of
/// `defs`, in the same order.
pub(crate) fn build(
    defs: &[JobDef],
    jobs: &[Job],
    now: Timestamp,
    generation: Generation,
) -> Result<Vec<JobSession>, WorldError> {
    let mut runs = Vec::new();
    for (def, job) in defs.iter().zip(jobs) {
        let vms = job.run_vms(jobs);
        for session in &def.sessions {
            let what = format!("job [{}] session [{}]", job.name, session.created);
            runs.push(build_one(session, job, &vms, now, generation, &what)?);
        }
    }
    Ok(runs)
}

fn invalid(what: &str, message: impl std::fmt::Display) -> WorldError {
    WorldError::Invalid(format!("{what} {message}"))
}

fn time(what: &str, key: &str, text: &str) -> Result<Timestamp, WorldError> {
    Timestamp::parse(text).ok_or_else(|| invalid(what, format!("has an invalid {key} [{text}]")))
}

fn build_one(
    def: &JobSessionDef,
    job: &Job,
    vms: &[&JobVm],
    now: Timestamp,
    generation: Generation,
    what: &str,
) -> Result<JobSession, WorldError> {
    let created = time(what, "created", &def.created)?;
    let worker = match def.job_type.as_deref() {
        None => false,
        Some(t) if t.eq_ignore_ascii_case(WORKER_JOB_TYPE) => {
            if job.job_type != JobType::ImmediateBackupCopy {
                return Err(invalid(
                    what,
                    format!("may be a {WORKER_JOB_TYPE} only on an ImmediateBackupCopy job"),
                ));
            }
            true
        }
        Some(t) => {
            return Err(invalid(
                what,
                format!("has job_type [{t}]; only {WORKER_JOB_TYPE} may be given"),
            ))
        }
    };
    let progress = match def.progress {
        None => None,
        Some(p) => Some(
            u8::try_from(p)
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| invalid(what, format!("has progress [{p}], not 0 to 100")))?,
        ),
    };
    if def.vms.is_empty() {
        return Err(invalid(what, "has no vms"));
    }
    let mut tasks = Vec::new();
    for vm_def in &def.vms {
        let (position, vm) = vms
            .iter()
            .enumerate()
            .find(|(_, v)| v.name.eq_ignore_ascii_case(&vm_def.name))
            .ok_or_else(|| invalid(what, format!("names unknown VM [{}]", vm_def.name)))?;
        let outcome: JobOutcome = parse_enum(
            &format!("{what} VM [{}] result", vm_def.name),
            &vm_def.result,
        )?;
        let start = time(what, "start", &vm_def.start)?;
        let end = time(what, "end", &vm_def.end)?;
        if end <= start {
            return Err(invalid(
                what,
                format!("VM [{}] ends before it starts", vm_def.name),
            ));
        }
        if start < created {
            return Err(invalid(
                what,
                format!("VM [{}] starts before the session is created", vm_def.name),
            ));
        }
        let reason = match outcome {
            JobOutcome::Success => vm_def.reason.clone().unwrap_or_default(),
            other => vm_def
                .reason
                .clone()
                .unwrap_or_else(|| default_reason(&vm.name, other)),
        };
        tasks.push(ExplicitVm {
            position,
            vm,
            outcome,
            reason,
            start,
            end,
        });
    }
    let id = def.id.unwrap_or_else(|| {
        Uuid::new_v5(
            &job.id.0,
            format!("explicit\u{0}{}", created.micros()).as_bytes(),
        )
    });
    let run = JobSession::explicit(ExplicitRun {
        id,
        job,
        created,
        retry: def.retry.unwrap_or(false),
        worker,
        progress,
        vms: tasks,
        generation,
    });
    if !run.is_over(now) {
        return Err(invalid(what, "must be over before the clock at load"));
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use crate::*;

    const WORLD: &str = r#"
[[backup_servers]]
name = "srv13.tech.local"

[[jobs]]
name = "Fileserver Backup"
backup_server = "srv13.tech.local"
type = "Backup"
max_concurrent_tasks = 1

[[jobs.vms]]
name = "srv04"
size_gib = 60

[[jobs.vms]]
name = "srv05"
size_gib = 100

[[jobs.sessions]]
id = "d46e39e0-1131-4585-91a7-e828ce7eafae"
created = "2026-06-22T22:00:03.17Z"
vms = [
  { name = "srv04", result = "Success", start = "2026-06-22T22:00:48.17Z", end = "2026-06-22T22:31:02.17Z" },
  { name = "srv05", result = "Warning", start = "2026-06-22T22:31:02.17Z", end = "2026-06-22T23:11:22.17Z" },
]

[[jobs]]
name = "Fileserver Backup Copy"
backup_server = "srv13.tech.local"
type = "ImmediateBackupCopy"
source_jobs = ["Fileserver Backup"]

[[jobs.sessions]]
created = "2026-06-15T05:34:19.503Z"
job_type = "ImmediateBackupCopyWorker"
progress = 0
vms = [{ name = "srv04", result = "Success", start = "2026-06-15T05:35:05Z", end = "2026-06-15T05:36:00Z" }]
"#;

    fn built(text: &str) -> Result<Vec<entman_model::job_session::JobSession>, WorldError> {
        let world = parse(text)?;
        let now = entman_model::Timestamp::parse("2026-06-24T00:00:00Z").unwrap();
        let jobs = build(&world, now)?.jobs;
        super::build(
            &world.jobs,
            &jobs,
            now,
            entman_model::job_session::Generation::Em12,
        )
    }

    #[test]
    fn explicit_sessions_are_kept_as_given_and_the_rest_derived() {
        let runs = built(WORLD).unwrap();
        assert_eq!(runs.len(), 2);
        let run = &runs[0];
        assert_eq!(run.id.to_string(), "d46e39e0-1131-4585-91a7-e828ce7eafae");
        assert_eq!(run.name, "Fileserver Backup@2026-06-22 22:00:03");
        assert_eq!(run.end.to_string(), "2026-06-22T23:11:26.17Z");
        assert_eq!(
            run.tasks[1].course.created.to_string(),
            "2026-06-22T22:00:48.173Z"
        );
        assert_eq!(run.tasks[1].course.size_bytes, 100 << 30);
        assert!(run.tasks[1].course.reason.contains("Warning"));
        let copy = &runs[1];
        assert_eq!(copy.job_type_name(), "ImmediateBackupCopyWorker");
        assert_eq!(copy.progress(copy.end), 0);
        assert_eq!(
            copy.tasks[0].course.size_bytes, 0,
            "copy tasks move no bytes"
        );
    }

    #[test]
    fn bad_sessions_are_errors_naming_the_job_and_session() {
        for (from, to, needle) in [
            (
                r#"name = "srv05", result = "Warning""#,
                r#"name = "srv99", result = "Warning""#,
                "unknown VM [srv99]",
            ),
            (r#"result = "Warning""#, r#"result = "Maybe""#, "result"),
            (
                r#"created = "2026-06-22T22:00:03.17Z""#,
                r#"created = "yesterday""#,
                "invalid created",
            ),
            (
                r#"created = "2026-06-22T22:00:03.17Z""#,
                r#"created = "2026-06-22T22:00:03.17Z"
retry = "yes""#,
                "retry",
            ),
            ("progress = 0", "progress = 101", "progress [101]"),
            (
                r#"end = "2026-06-22T23:11:22.17Z""#,
                r#"end = "2026-06-22T22:00:00Z""#,
                "ends before it starts",
            ),
            (
                r#"end = "2026-06-22T23:11:22.17Z""#,
                r#"end = "2026-07-22T23:11:22.17Z""#,
                "must be over",
            ),
            (
                r#"job_type = "ImmediateBackupCopyWorker""#,
                r#"job_type = "Backup""#,
                "job_type [Backup]",
            ),
        ] {
            let text = WORLD.replacen(from, to, 1);
            assert_ne!(text, WORLD, "{from}");
            let e = built(&text).unwrap_err().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
            if !needle.contains("retry") {
                assert!(e.contains("job [Fileserver Backup"), "{e}");
            }
        }
    }
}
