//! Building the jobs of a world (jobs-domain.md §8.2–8.3): defaults, derived ids
//! and VM references, and the load rules, each error naming its job.

use crate::format::{JobDef, JobVmDef, ScheduleDef};
use crate::{derived_id, parse_enum, WorldError};
use entman_model::ids::{BackupServerId, JobId, ObjectInJobId};
use entman_model::job::*;
use entman_model::server::BackupServer;
use entman_model::Timestamp;
use std::collections::HashMap;

/// Bytes in a GiB (`size_gib`).
const GIB: f64 = 1_073_741_824.0;

/// The jobs of `defs`, on `servers`, in file order.
pub(crate) fn build_jobs(
    defs: &[JobDef],
    servers: &[BackupServer],
    now: Timestamp,
) -> Result<Vec<Job>, WorldError> {
    let server_by_name: HashMap<String, &BackupServer> =
        servers.iter().map(|s| (s.name.to_lowercase(), s)).collect();
    let mut ids: HashMap<(BackupServerId, String), JobId> = HashMap::new();
    let mut refs = VmRefs::default();
    let mut jobs = Vec::new();
    for def in defs {
        let what = format!("job [{}]", def.name);
        let server = server_by_name
            .get(&def.backup_server.to_lowercase())
            .ok_or_else(|| {
                invalid(
                    &what,
                    format!("names unknown backup server [{}]", def.backup_server),
                )
            })?;
        let id =
            JobId(def.id.unwrap_or_else(|| {
                derived_id("job", &format!("{}\u{0}{}", server.name, def.name))
            }));
        if ids
            .insert((server.id, def.name.to_lowercase()), id)
            .is_some()
        {
            return Err(invalid(
                &what,
                format!("is defined twice on backup server [{}]", server.name),
            ));
        }
        jobs.push(build_job(def, server, id, now, &mut refs, &what)?);
    }
    resolve_sources(defs, &mut jobs, &ids)?;
    Ok(jobs)
}

fn invalid(what: &str, message: String) -> WorldError {
    WorldError::Invalid(format!("{what} {message}"))
}

fn build_job(
    def: &JobDef,
    server: &BackupServer,
    id: JobId,
    now: Timestamp,
    refs: &mut VmRefs,
    what: &str,
) -> Result<Job, WorldError> {
    let job_type: JobType = parse_enum(&format!("{what} type"), &def.job_type)?;
    let platform = match (job_type.is_copy(), &def.platform) {
        (true, Some(_)) => {
            return Err(invalid(what, "is a copy job and takes no platform".into()));
        }
        (true, None) => None,
        (false, p) => Some(parse_enum(
            &format!("{what} platform"),
            p.as_deref().unwrap_or("VMware"),
        )?),
    };
    check_type_keys(def, job_type, what)?;
    let created = match &def.created {
        Some(text) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| invalid(what, format!("created: [{text}] is not a date yyyy-mm-dd")))?,
        None => now.datetime().date_naive(),
    };
    let schedule = def
        .schedule
        .as_ref()
        .map(|s| build_schedule(s, what))
        .transpose()?;
    let mut vms = Vec::new();
    for vm in &def.vms {
        vms.push(build_vm(vm, def, server, platform, refs, what)?);
    }
    let mut names = std::collections::HashSet::new();
    if let Some(dup) = vms.iter().find(|v| !names.insert(v.name.to_lowercase())) {
        return Err(invalid(what, format!("lists VM [{}] twice", dup.name)));
    }
    Ok(Job {
        id,
        backup_server_id: server.id,
        name: def.name.clone(),
        job_type,
        platform,
        description: def.description.clone(),
        created,
        schedule_enabled: def.enabled,
        schedule,
        retry: build_retry(def, what)?,
        timing: RunTiming {
            startup_ms: seconds(def.startup_seconds, 45.0, "startup_seconds", what)?,
            finalize_ms: seconds(def.finalize_seconds, 4.0, "finalize_seconds", what)?,
            stop_ms: seconds(def.stop_seconds, 5.0, "stop_seconds", what)?,
            max_concurrent_tasks: ranged(
                def.max_concurrent_tasks,
                4,
                1,
                1000,
                "max_concurrent_tasks",
                what,
            )?,
        },
        backup: BackupOptions {
            retain_points: ranged(def.retain_points, 7, 1, 10_000, "retain_points", what)?,
            full_backup_days: match &def.full_backup_days {
                Some(days) => weekdays(days, what)?,
                None => vec![Weekday::Monday],
            },
            compression_percent: ranged(
                def.compression_percent,
                50,
                1,
                100,
                "compression_percent",
                what,
            )?,
            change_rate_percent: ranged(
                def.change_rate_percent,
                5,
                0,
                100,
                "change_rate_percent",
                what,
            )?,
        },
        vms,
        source_jobs: Vec::new(),
    })
}

/// The keys that only some job types take, and the VMs and sources each needs.
fn check_type_keys(def: &JobDef, job_type: JobType, what: &str) -> Result<(), WorldError> {
    let backup_only = [
        ("retain_points", def.retain_points.is_some()),
        ("repository", def.repository.is_some()),
        ("full_backup_days", def.full_backup_days.is_some()),
        ("compression_percent", def.compression_percent.is_some()),
        ("change_rate_percent", def.change_rate_percent.is_some()),
    ];
    if job_type != JobType::Backup {
        if let Some((key, _)) = backup_only.iter().find(|(_, given)| *given) {
            return Err(invalid(
                what,
                format!("is not a Backup job and takes no {key}"),
            ));
        }
    }
    if job_type.is_copy() {
        if !def.vms.is_empty() {
            return Err(invalid(
                what,
                "is a copy job: it takes the VMs of its source_jobs, not vms".into(),
            ));
        }
        if def.source_jobs.as_ref().is_none_or(Vec::is_empty) {
            return Err(invalid(
                what,
                "is a copy job and needs at least one source job".into(),
            ));
        }
    } else {
        if def.source_jobs.is_some() {
            return Err(invalid(
                what,
                "is not a copy job and takes no source_jobs".into(),
            ));
        }
        if def.vms.is_empty() {
            return Err(invalid(what, "needs at least one VM".into()));
        }
    }
    if job_type == JobType::ImmediateBackupCopy && def.schedule.is_some() {
        return Err(invalid(
            what,
            "is an ImmediateBackupCopy job, which runs after its sources and takes no schedule"
                .into(),
        ));
    }
    Ok(())
}

fn build_schedule(def: &ScheduleDef, what: &str) -> Result<Schedule, WorldError> {
    let what = format!("{what} schedule");
    let utc_offset_hours = i8::try_from(def.utc_offset_hours)
        .ok()
        .filter(|h| (-12..=14).contains(h))
        .ok_or_else(|| {
            invalid(
                &what,
                format!(
                    "utc_offset_hours: [{}] is not between -12 and 14",
                    def.utc_offset_hours
                ),
            )
        })?;
    let periodic = def.every_hours.is_some() || def.every_minutes.is_some();
    let kind = match def.kind.as_str() {
        "Periodically" => {
            if def.time.is_some() || def.days.is_some() {
                return Err(invalid(
                    &what,
                    "of kind Periodically takes no time or days".into(),
                ));
            }
            let period = match (def.every_hours, def.every_minutes) {
                (Some(h), None) => Period::Hours(positive(h, 24, "every_hours", &what)?),
                (None, Some(m)) => Period::Minutes(positive(m, 1440, "every_minutes", &what)?),
                _ => {
                    return Err(invalid(
                        &what,
                        "of kind Periodically needs one of every_hours and every_minutes".into(),
                    ));
                }
            };
            ScheduleKind::Periodically(period)
        }
        daily @ ("Everyday" | "WeekDays" | "SelectedDays") => {
            if periodic {
                return Err(invalid(
                    &what,
                    format!("of kind {daily} takes no every_hours or every_minutes"),
                ));
            }
            let days = match (daily, &def.days) {
                ("SelectedDays", Some(days)) if !days.is_empty() => {
                    DailyKind::SelectedDays(weekdays(days, &what)?)
                }
                ("SelectedDays", _) => {
                    return Err(invalid(&what, "of kind SelectedDays needs days".into()));
                }
                (_, Some(_)) => {
                    return Err(invalid(&what, format!("of kind {daily} takes no days")));
                }
                ("Everyday", None) => DailyKind::Everyday,
                _ => DailyKind::WeekDays,
            };
            let time = def
                .time
                .as_deref()
                .ok_or_else(|| invalid(&what, format!("of kind {daily} needs a time HH:MM")))?;
            ScheduleKind::Daily {
                days,
                minute_of_day: minute_of_day(time)
                    .ok_or_else(|| invalid(&what, format!("time: [{time}] is not a time HH:MM")))?,
            }
        }
        other => {
            return Err(invalid(
                &what,
                format!("kind: [{other}] is not Everyday, WeekDays, SelectedDays or Periodically"),
            ));
        }
    };
    Ok(Schedule {
        kind,
        utc_offset_hours,
    })
}

/// `HH:MM` as minutes after midnight.
fn minute_of_day(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

fn weekdays(names: &[String], what: &str) -> Result<Vec<Weekday>, WorldError> {
    names
        .iter()
        .map(|n| parse_enum(&format!("{what} day"), n))
        .collect()
}

fn build_retry(def: &JobDef, what: &str) -> Result<RetryOptions, WorldError> {
    let Some(r) = &def.retry else {
        return Ok(RetryOptions {
            times: 3,
            timeout_minutes: 10,
        });
    };
    let count = |v: i64, key: &str| {
        u32::try_from(v).ok().filter(|v| *v <= 1000).ok_or_else(|| {
            invalid(
                what,
                format!("retry {key}: [{v}] is not between 0 and 1000"),
            )
        })
    };
    Ok(RetryOptions {
        times: count(r.times, "times")?,
        timeout_minutes: count(r.timeout_minutes, "timeout_minutes")?,
    })
}

fn build_vm(
    def: &JobVmDef,
    job: &JobDef,
    server: &BackupServer,
    platform: Option<Platform>,
    refs: &mut VmRefs,
    what: &str,
) -> Result<JobVm, WorldError> {
    let what = format!("{what} VM [{}]", def.name);
    let outcomes = match &def.outcomes {
        Some(list) if list.is_empty() => {
            return Err(invalid(&what, "outcomes: the list is empty".into()));
        }
        Some(list) => list
            .iter()
            .map(|o| parse_enum(&format!("{what} outcome"), o))
            .collect::<Result<Vec<JobOutcome>, _>>()?,
        None => vec![JobOutcome::Success],
    };
    let size_gib = def.size_gib.unwrap_or(40.0);
    if !(0.0..=1_000_000.0).contains(&size_gib) {
        return Err(invalid(
            &what,
            format!("size_gib: [{size_gib}] is not between 0 and 1000000"),
        ));
    }
    let reasons = match (&def.reasons, &def.reason) {
        (Some(list), _) => list.clone(),
        (None, Some(one)) => vec![one.clone()],
        (None, None) => Vec::new(),
    };
    Ok(JobVm {
        id: ObjectInJobId(def.id.unwrap_or_else(|| {
            derived_id(
                "job vm",
                &format!("{}\u{0}{}\u{0}{}", server.name, job.name, def.name),
            )
        })),
        name: def.name.clone(),
        hierarchy_ref: {
            // Every VM name takes its number, whether or not its ref is given.
            let derived = refs.derive(server, platform, &def.name);
            def.hierarchy_ref.clone().unwrap_or(derived)
        },
        // Within the checked range the product fits a u64 exactly enough.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        size_bytes: (size_gib * GIB).round() as u64,
        duration_ms: seconds(def.duration_seconds, 300.0, "duration_seconds", &what)?,
        fail_ms: seconds(def.fail_seconds, 55.0, "fail_seconds", &what)?,
        outcomes,
        reasons,
    })
}

/// The derived `HierarchyObjRef`s: a VM name keeps one number per backup server,
/// in order of first appearance (jobs-domain.md §8.3).
#[derive(Default)]
struct VmRefs {
    numbers: HashMap<(BackupServerId, String), usize>,
    per_server: HashMap<BackupServerId, usize>,
}

impl VmRefs {
    fn derive(&mut self, server: &BackupServer, platform: Option<Platform>, vm: &str) -> String {
        let host = derived_id("server", &server.name);
        let next = self.per_server.entry(server.id).or_default();
        let n = *self
            .numbers
            .entry((server.id, vm.to_lowercase()))
            .or_insert_with(|| {
                *next += 1;
                *next - 1
            });
        if platform == Some(Platform::HyperV) {
            format!("urn:HyperV:Vm:{host}.{}", derived_id("vm", vm))
        } else {
            format!("urn:VMware:Vm:{host}.vm-{}", 1000 + n)
        }
    }
}

/// A duration key in seconds (≥ 0, at most a year) as milliseconds.
fn seconds(value: Option<f64>, default: f64, key: &str, what: &str) -> Result<u64, WorldError> {
    let s = value.unwrap_or(default);
    if !(0.0..=31_536_000.0).contains(&s) {
        return Err(invalid(
            what,
            format!("{key}: [{s}] is not between 0 and 31536000 seconds"),
        ));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok((s * 1000.0).round() as u64)
}

/// An integer key within `min..=max`, or its default.
fn ranged<T: TryFrom<i64>>(
    value: Option<i64>,
    default: T,
    min: i64,
    max: i64,
    key: &str,
    what: &str,
) -> Result<T, WorldError> {
    match value {
        None => Ok(default),
        Some(v) => (min..=max)
            .contains(&v)
            .then(|| T::try_from(v).ok())
            .flatten()
            .ok_or_else(|| invalid(what, format!("{key}: [{v}] is not between {min} and {max}"))),
    }
}

fn positive(v: i64, max: i64, key: &str, what: &str) -> Result<u32, WorldError> {
    ranged(Some(v), 1, 1, max, key, what)
}

/// Copy jobs name their source jobs; they must be non-copy jobs on the same server.
fn resolve_sources(
    defs: &[JobDef],
    jobs: &mut [Job],
    ids: &HashMap<(BackupServerId, String), JobId>,
) -> Result<(), WorldError> {
    let types: HashMap<JobId, JobType> = jobs.iter().map(|j| (j.id, j.job_type)).collect();
    for (def, job) in defs.iter().zip(jobs.iter_mut()) {
        for name in def.source_jobs.iter().flatten() {
            let what = format!("job [{}]", def.name);
            let id = ids
                .get(&(job.backup_server_id, name.to_lowercase()))
                .ok_or_else(|| {
                    invalid(
                        &what,
                        format!("names unknown source job [{name}] on its backup server"),
                    )
                })?;
            if types[id].is_copy() {
                return Err(invalid(&what, format!("names copy job [{name}] as a source; sources are backup or replication jobs")));
            }
            if !job.source_jobs.iter().any(|l| l.job == *id) {
                job.source_jobs.push(LinkedJob {
                    id: ObjectInJobId(derived_id("linked job", &format!("{}\u{0}{}", job.id, id))),
                    job: *id,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::{build, parse, WorldError};
    use entman_model::job::*;
    use entman_model::Timestamp;

    const SERVERS: &str = r#"
[[backup_servers]]
name = "srv13.tech.local"
id = "4ceb4e03-d23d-4c4e-be05-21580b260243"

[[backup_servers]]
name = "hv01"
"#;

    fn jobs_of(text: &str) -> Result<Vec<Job>, WorldError> {
        let world = parse(&format!("{SERVERS}{text}"))?;
        build(&world, Timestamp::parse("2026-06-24T10:00:00Z").unwrap()).map(|b| b.jobs)
    }

    fn error_of(text: &str) -> String {
        match jobs_of(text) {
            Ok(_) => panic!("expected an error for {text}"),
            Err(e) => e.to_string(),
        }
    }

    /// The example world of jobs-domain.md §8.9 (without the sections of later issues).
    #[test]
    fn the_example_of_jobs_domain_8_9_builds_as_written() {
        let jobs = jobs_of(
            r#"
[[jobs]]
name = "Fileserver Backup"
id = "4856ab37-2235-45e8-affe-d515878b01a9"
backup_server = "srv13.tech.local"
type = "Backup"
platform = "VMware"
description = "Backup of file servers"
created = "2026-01-12"
enabled = true
schedule = { kind = "Everyday", time = "22:00", utc_offset_hours = 0 }
retry = { times = 3, timeout_minutes = 10 }
retain_points = 7
max_concurrent_tasks = 1

[[jobs.vms]]
name = "srv04"
ref = "urn:VMware:Vm:3b8ebdcc-41de-4c42-a001-a344f2e75550.vm-62230"
size_gib = 60
duration_seconds = 1814

[[jobs.vms]]
name = "srv05"
ref = "urn:VMware:Vm:3b8ebdcc-41de-4c42-a001-a344f2e75550.vm-62228"
size_gib = 100
duration_seconds = 2420
outcomes = ["Warning"]
reason = "Processing srv05 Warning: Failed to truncate Microsoft SQL Server transaction logs."

[[jobs]]
name = "Fileserver Backup Copy"
id = "5adf6525-51d9-48b9-a72d-7f80701c714b"
backup_server = "srv13.tech.local"
type = "ImmediateBackupCopy"
description = "Copy of file server backups to the DR site"
source_jobs = ["Fileserver Backup"]
"#,
        )
        .unwrap();
        let (backup, copy) = (&jobs[0], &jobs[1]);
        assert_eq!(
            backup.id.to_string(),
            "4856ab37-2235-45e8-affe-d515878b01a9"
        );
        assert_eq!(backup.vms[1].size_bytes, 100 << 30);
        assert_eq!(backup.vms[1].duration_ms, 2_420_000);
        assert_eq!(backup.vms[1].outcome(0), JobOutcome::Warning);
        assert!(backup.vms[1].reason(0).contains("Microsoft SQL Server"));
        assert_eq!(backup.vms[0].fail_ms, 55_000);
        assert_eq!(backup.timing.max_concurrent_tasks, 1);
        assert_eq!(backup.timing.startup_ms, 45_000);
        assert_eq!(
            backup.next_run(Timestamp::parse("2026-06-24T10:00:00Z").unwrap()),
            Timestamp::parse("2026-06-24T22:00:00Z")
        );
        assert_eq!(copy.platform, None);
        assert!(copy.schedule_configured());
        assert_eq!(copy.next_run(Timestamp::now()), None);
        assert_eq!(copy.source_jobs.len(), 1);
        assert_eq!(copy.source_jobs[0].job, backup.id);
        assert_eq!(copy.created.to_string(), "2026-06-24");
    }

    #[test]
    fn derived_refs_number_vm_names_per_backup_server_in_order_of_appearance() {
        let jobs = jobs_of(
            r#"
[[jobs]]
name = "A"
backup_server = "srv13.tech.local"
type = "Backup"
vms = [{ name = "web" }, { name = "db", ref = "urn:VMware:Vm:x.vm-7" }]

[[jobs]]
name = "B"
backup_server = "srv13.tech.local"
type = "Replica"
vms = [{ name = "mail" }, { name = "WEB" }]

[[jobs]]
name = "C"
backup_server = "hv01"
type = "Backup"
platform = "HyperV"
vms = [{ name = "web" }]
"#,
        )
        .unwrap();
        let refs: Vec<Vec<&str>> = jobs
            .iter()
            .map(|j| j.vms.iter().map(|v| v.hierarchy_ref.as_str()).collect())
            .collect();
        let host = crate::derived_id("server", "srv13.tech.local");
        assert_eq!(refs[0][0], format!("urn:VMware:Vm:{host}.vm-1000"));
        assert_eq!(refs[0][1], "urn:VMware:Vm:x.vm-7");
        // "db" took number 1001 although its ref is given.
        assert_eq!(refs[1][0], format!("urn:VMware:Vm:{host}.vm-1002"));
        // The same name on the same server: the same ref.
        assert_eq!(refs[1][1], refs[0][0]);
        let hv = crate::derived_id("server", "hv01");
        let vm = crate::derived_id("vm", "web");
        assert_eq!(refs[2][0], format!("urn:HyperV:Vm:{hv}.{vm}"));
        // Ids are derived and stable: the same world gives the same ids.
        let again = jobs_of(
            "[[jobs]]\nname = \"A\"\nbackup_server = \"srv13.tech.local\"\ntype = \"Backup\"\nvms = [{ name = \"web\" }]\n",
        )
        .unwrap();
        assert_eq!(again[0].id, jobs[0].id);
        assert_eq!(again[0].vms[0].id, jobs[0].vms[0].id);
    }

    #[test]
    fn invalid_jobs_are_load_errors_that_name_the_job() {
        let base = "name = \"J\"\nbackup_server = \"srv13.tech.local\"\n";
        let vms = "vms = [{ name = \"v\" }]\n";
        for (body, expected) in [
            ("type = \"Backup\"\n".to_string(), "needs at least one VM"),
            (format!("type = \"Tape\"\n{vms}"), "job [J] type: [Tape]"),
            (format!("type = \"BackupCopy\"\n{vms}"), "takes the VMs of its source_jobs"),
            ("type = \"BackupCopy\"\n".to_string(), "needs at least one source job"),
            ("type = \"BackupCopy\"\nsource_jobs = [\"Nope\"]\n".to_string(), "unknown source job [Nope]"),
            ("type = \"BackupCopy\"\nsource_jobs = [\"J\"]\n".to_string(), "names copy job [J] as a source"),
            ("type = \"ImmediateBackupCopy\"\nplatform = \"VMware\"\nsource_jobs = [\"X\"]\n".to_string(), "takes no platform"),
            (format!("type = \"Replica\"\nretain_points = 3\n{vms}"), "takes no retain_points"),
            (format!("type = \"Backup\"\nsource_jobs = [\"X\"]\n{vms}"), "takes no source_jobs"),
            (format!("type = \"Backup\"\nschedule = {{ kind = \"Everyday\" }}\n{vms}"), "needs a time HH:MM"),
            (format!("type = \"Backup\"\nschedule = {{ kind = \"Everyday\", time = \"25:00\" }}\n{vms}"), "[25:00] is not a time"),
            (format!("type = \"Backup\"\nschedule = {{ kind = \"SelectedDays\", time = \"01:00\" }}\n{vms}"), "needs days"),
            (format!("type = \"Backup\"\nschedule = {{ kind = \"Periodically\" }}\n{vms}"), "needs one of every_hours and every_minutes"),
            (format!("type = \"Backup\"\nschedule = {{ kind = \"Hourly\" }}\n{vms}"), "kind: [Hourly]"),
            (format!("type = \"Backup\"\nschedule = {{ kind = \"Everyday\", time = \"01:00\", utc_offset_hours = 20 }}\n{vms}"), "utc_offset_hours: [20]"),
            (format!("type = \"Backup\"\nmax_concurrent_tasks = 0\n{vms}"), "max_concurrent_tasks: [0]"),
            (format!("type = \"Backup\"\ncreated = \"12/01/2026\"\n{vms}"), "created: [12/01/2026]"),
            ("type = \"Backup\"\nvms = [{ name = \"v\", outcomes = [] }]\n".to_string(), "VM [v] outcomes: the list is empty"),
            ("type = \"Backup\"\nvms = [{ name = \"v\", outcomes = [\"Meh\"] }]\n".to_string(), "VM [v] outcome: [Meh]"),
            ("type = \"Backup\"\nvms = [{ name = \"v\" }, { name = \"V\" }]\n".to_string(), "lists VM [V] twice"),
            ("type = \"Backup\"\nvms = [{ name = \"v\", duration_seconds = -1 }]\n".to_string(), "duration_seconds: [-1]"),
        ] {
            let message = error_of(&format!("[[jobs]]\n{base}{body}"));
            assert!(message.contains("job [J]"), "{message}");
            assert!(message.contains(expected), "{expected}: {message}");
        }
        let message = error_of(&format!(
            "[[jobs]]\n{base}type = \"Backup\"\n{vms}[[jobs]]\n{base}type = \"Backup\"\n{vms}"
        ));
        assert!(message.contains("defined twice"), "{message}");
        let message = error_of("[[jobs]]\nname = \"J\"\nbackup_server = \"nowhere\"\ntype = \"Backup\"\nvms = [{ name = \"v\" }]\n");
        assert!(
            message.contains("unknown backup server [nowhere]"),
            "{message}"
        );
        let message = error_of("[[jobs]]\nname = \"J\"\nbackup_server = \"hv01\"\ntype = \"Backup\"\ncolour = \"red\"\nvms = [{ name = \"v\" }]\n");
        assert!(message.contains("unknown field `colour`"), "{message}");
    }
}
