//! Backup jobs (slice 2: resources/jobs.md, jobs-domain.md): a backup server's
//! backup, replication and copy jobs, the VMs they process, their schedules.
//!
//! A [`Job`] holds everything the world says about it: what EM shows (type,
//! platform, description, schedule, retry options, includes) and the course of
//! its runs (timings, per-VM sizes, durations and outcomes per attempt), so that
//! a run can later be derived from the job and the clock like a failover session.

use crate::ids::{BackupServerId, JobId, ObjectInJobId};
use crate::Timestamp;
/// A calendar date (a job's creation day).
pub use chrono::NaiveDate;
use chrono::{Datelike, Duration, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

crate::wire_enum! {
    /// `JobType` of the jobs this server lists (jobs.md §1).
    pub enum JobType ("job type") {
        /// A backup job.
        Backup = "Backup",
        /// A replication job.
        Replica = "Replica",
        /// A periodic backup copy job (VBR 11a or earlier).
        BackupCopy = "BackupCopy",
        /// An immediate backup copy job (continuous mode).
        ImmediateBackupCopy = "ImmediateBackupCopy",
    }
}

impl JobType {
    /// Whether this is a copy job: no includes of its own, the VMs of its source jobs.
    pub fn is_copy(self) -> bool {
        matches!(self, JobType::BackupCopy | JobType::ImmediateBackupCopy)
    }
}

crate::wire_enum! {
    /// `Platform` of a backup or replication job.
    pub enum Platform ("platform") {
        /// VMware vSphere.
        VMware = "VMware",
        /// Microsoft Hyper-V.
        HyperV = "HyperV",
        /// VMware Cloud Director.
        VCloud = "vCloud",
    }
}

crate::wire_enum! {
    /// A day of the week, in the order EM lists `Days` (Sunday first).
    pub enum Weekday ("weekday") {
        /// Sunday.
        Sunday = "Sunday",
        /// Monday.
        Monday = "Monday",
        /// Tuesday.
        Tuesday = "Tuesday",
        /// Wednesday.
        Wednesday = "Wednesday",
        /// Thursday.
        Thursday = "Thursday",
        /// Friday.
        Friday = "Friday",
        /// Saturday.
        Saturday = "Saturday",
    }
}

impl Weekday {
    /// The weekday of a date.
    pub fn of(date: NaiveDate) -> Weekday {
        Weekday::ALL[date.weekday().num_days_from_sunday() as usize]
    }

    /// Monday to Friday.
    pub const WORK_DAYS: &'static [Weekday] = &[
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ];
}

crate::wire_enum! {
    /// The outcome of one VM in one run of a job.
    pub enum JobOutcome ("outcome") {
        /// Processed.
        Success = "Success",
        /// Processed with a warning.
        Warning = "Warning",
        /// Not processed.
        Failed = "Failed",
    }
}

/// On which days a daily schedule runs (`OptionsDaily/Kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DailyKind {
    /// Every day.
    Everyday,
    /// Monday to Friday.
    WeekDays,
    /// The listed days (at least one), in EM's order.
    SelectedDays(Vec<Weekday>),
}

impl DailyKind {
    /// The EM `Kind` text.
    pub fn as_str(&self) -> &'static str {
        match self {
            DailyKind::Everyday => "Everyday",
            DailyKind::WeekDays => "WeekDays",
            DailyKind::SelectedDays(_) => "SelectedDays",
        }
    }

    /// The days it runs on, Sunday first.
    pub fn days(&self) -> Vec<Weekday> {
        match self {
            DailyKind::Everyday => Weekday::ALL.to_vec(),
            DailyKind::WeekDays => Weekday::WORK_DAYS.to_vec(),
            DailyKind::SelectedDays(days) => {
                let mut days = days.clone();
                days.sort();
                days.dedup();
                days
            }
        }
    }
}

/// The period of a periodic schedule, counted from local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Period {
    /// Every so many hours (≥ 1).
    Hours(u32),
    /// Every so many minutes (≥ 1).
    Minutes(u32),
}

impl Period {
    /// The period's length.
    fn duration(self) -> Duration {
        match self {
            Period::Hours(h) => Duration::hours(i64::from(h)),
            Period::Minutes(m) => Duration::minutes(i64::from(m)),
        }
    }
}

/// When a scheduled job runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScheduleKind {
    /// On the given days at a local time (minutes after local midnight).
    Daily {
        /// The days.
        days: DailyKind,
        /// Minutes after local midnight, below 24 × 60.
        minute_of_day: u16,
    },
    /// Every period from local midnight.
    Periodically(Period),
}

/// A job's schedule, on the clock of its backup server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Daily or periodic.
    pub kind: ScheduleKind,
    /// The backup server's offset from UTC, in hours (−12 to +14).
    pub utc_offset_hours: i8,
}

impl Schedule {
    /// The first start after `now` (whole seconds, UTC), as `NextRun` shows it.
    pub fn next_run_after(&self, now: Timestamp) -> Timestamp {
        let offset = Duration::hours(i64::from(self.utc_offset_hours));
        let local = now.datetime().naive_utc() + offset;
        let start_of = |date: NaiveDate| date.and_time(NaiveTime::MIN);
        let next_local = match &self.kind {
            ScheduleKind::Daily {
                days,
                minute_of_day,
            } => {
                let days = days.days();
                let at = Duration::minutes(i64::from(*minute_of_day));
                // Within eight days there is always an allowed weekday after now.
                (0..=8)
                    .map(|d| local.date() + Duration::days(d))
                    .filter(|date| days.contains(&Weekday::of(*date)))
                    .map(|date| start_of(date) + at)
                    .find(|t| *t > local)
                    .expect("a daily schedule has at least one day")
            }
            ScheduleKind::Periodically(period) => {
                let step = period.duration();
                let midnight = start_of(local.date());
                let since = local - midnight;
                let n = since.num_seconds() / step.num_seconds() + 1;
                let candidate = midnight + step * i32::try_from(n).unwrap_or(i32::MAX);
                let tomorrow = midnight + Duration::days(1);
                candidate.min(tomorrow)
            }
        };
        Timestamp::from_datetime(Utc.from_utc_datetime(&(next_local - offset)))
    }
}

/// A job's automatic retries (`RetryOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryOptions {
    /// Retries per scheduled run; 0 = `RetrySpecified` false.
    pub times: u32,
    /// Minutes between a failed run and its retry.
    pub timeout_minutes: u32,
}

/// One VM a backup or replication job processes (an include, `ObjectInJob`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobVm {
    /// `ObjectInJobId`.
    pub id: ObjectInJobId,
    /// `Name` and `DisplayName`.
    pub name: String,
    /// `HierarchyObjRef`, e.g. `urn:VMware:Vm:<server>.vm-1000`.
    pub hierarchy_ref: String,
    /// The VM's disk size in bytes.
    pub size_bytes: u64,
    /// Processing time of a successful or warning attempt, in milliseconds.
    pub duration_ms: u64,
    /// Processing time of a failed attempt, in milliseconds.
    pub fail_ms: u64,
    /// Outcome per attempt (at least one); the last one repeats.
    pub outcomes: Vec<JobOutcome>,
    /// `Reason` of a warning or failed attempt, per attempt (the last repeats);
    /// empty: the defaults of jobs-domain.md §3.
    pub reasons: Vec<String>,
}

impl JobVm {
    /// The outcome of attempt `n` (from 0).
    pub fn outcome(&self, attempt: usize) -> JobOutcome {
        pick(&self.outcomes, attempt)
            .copied()
            .unwrap_or(JobOutcome::Success)
    }

    /// The `Reason` of attempt `n` (from 0): empty for a success.
    pub fn reason(&self, attempt: usize) -> String {
        match self.outcome(attempt) {
            JobOutcome::Success => String::new(),
            outcome => pick(&self.reasons, attempt)
                .cloned()
                .unwrap_or_else(|| default_reason(&self.name, outcome)),
        }
    }
}

/// Item `n` of a per-attempt list whose last item repeats.
fn pick<T>(items: &[T], n: usize) -> Option<&T> {
    items.get(n).or_else(|| items.last())
}

/// The `Reason` of a warning or failure the world does not give (jobs-domain.md §3).
pub fn default_reason(vm: &str, outcome: JobOutcome) -> String {
    match outcome {
        JobOutcome::Success => String::new(),
        JobOutcome::Warning => {
            format!("Processing {vm} Warning: Failed to truncate transaction logs.")
        }
        JobOutcome::Failed => format!("Processing {vm} Error: Cannot create snapshot."),
    }
}

/// How the runs of a job are timed (jobs-domain.md §2, §5), in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTiming {
    /// From creation to the tasks.
    pub startup_ms: u64,
    /// From the last task's end to the session's end.
    pub finalize_ms: u64,
    /// How long running tasks take to stop.
    pub stop_ms: u64,
    /// Tasks in progress at once (≥ 1).
    pub max_concurrent_tasks: u32,
}

/// Where a backup job's files go and how big they are (backups.md §10.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupOptions {
    /// `SimpleRetentionPolicy/RetainCycles`: restore points kept per VM.
    pub retain_points: u32,
    /// Days whose first file per VM is a full backup.
    pub full_backup_days: Vec<Weekday>,
    /// Backup size as a percentage of the data size (1–100).
    pub compression_percent: u8,
    /// Data size of an increment as a percentage of the VM size (0–100).
    pub change_rate_percent: u8,
}

/// A source job of a copy job (`LinkedJobObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedJob {
    /// `ObjectInJobId` of the link.
    pub id: ObjectInJobId,
    /// The source job.
    pub job: JobId,
}

/// A job on a backup server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Identifier (`urn:veeam:Job:<id>`).
    pub id: JobId,
    /// The backup server the job belongs to.
    pub backup_server_id: BackupServerId,
    /// Name, unique on its backup server.
    pub name: String,
    /// `JobType`.
    pub job_type: JobType,
    /// `Platform`; copy jobs have none (EM writes `CustomPlatform`).
    pub platform: Option<Platform>,
    /// `Description`.
    pub description: String,
    /// The day the job was created (the date of schedule times in JSON).
    pub created: NaiveDate,
    /// `ScheduleEnabled`.
    pub schedule_enabled: bool,
    /// The schedule; `None`: `ScheduleConfigured` false (immediate copy jobs have
    /// none and are always configured).
    pub schedule: Option<Schedule>,
    /// Automatic retries.
    pub retry: RetryOptions,
    /// Timing of runs.
    pub timing: RunTiming,
    /// Backup jobs: retention and file sizes.
    pub backup: BackupOptions,
    /// Backup and replication jobs: the VMs, in processing order.
    pub vms: Vec<JobVm>,
    /// Copy jobs: the jobs whose VMs they process (`LinkedJobIncludes`).
    pub source_jobs: Vec<LinkedJob>,
}

impl Job {
    /// `ScheduleConfigured`.
    pub fn schedule_configured(&self) -> bool {
        self.job_type == JobType::ImmediateBackupCopy || self.schedule.is_some()
    }

    /// `NextRun` at `now`: only for an enabled job with a standard schedule.
    pub fn next_run(&self, now: Timestamp) -> Option<Timestamp> {
        if !self.schedule_enabled || self.job_type == JobType::ImmediateBackupCopy {
            return None;
        }
        self.schedule.as_ref().map(|s| s.next_run_after(now))
    }

    /// The VMs a run of this job processes, in order: its includes, or for a
    /// copy job the includes of its source jobs found among `jobs`.
    pub fn run_vms<'a>(&'a self, jobs: &'a [Job]) -> Vec<&'a JobVm> {
        if !self.job_type.is_copy() {
            return self.vms.iter().collect();
        }
        self.source_jobs
            .iter()
            .filter_map(|link| jobs.iter().find(|j| j.id == link.job))
            .flat_map(|source| source.vms.iter())
            .collect()
    }

    /// An include by its id.
    pub fn vm(&self, id: ObjectInJobId) -> Option<&JobVm> {
        self.vms.iter().find(|v| v.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn daily(days: DailyKind, hh: u16, mm: u16, offset: i8) -> Schedule {
        Schedule {
            kind: ScheduleKind::Daily {
                days,
                minute_of_day: hh * 60 + mm,
            },
            utc_offset_hours: offset,
        }
    }

    #[test]
    fn an_everyday_schedule_runs_next_at_its_time_today_or_tomorrow() {
        let s = daily(DailyKind::Everyday, 22, 0, 0);
        assert_eq!(
            s.next_run_after(at("2026-06-24T10:00:00Z")),
            at("2026-06-24T22:00:00Z")
        );
        assert_eq!(
            s.next_run_after(at("2026-06-24T22:00:00Z")),
            at("2026-06-25T22:00:00Z")
        );
    }

    #[test]
    fn a_schedule_keeps_the_backup_servers_local_time() {
        // 22:00 at UTC+2 is 20:00 UTC; at 21:00 UTC that has passed today.
        let s = daily(DailyKind::Everyday, 22, 0, 2);
        assert_eq!(
            s.next_run_after(at("2026-06-24T21:00:00Z")),
            at("2026-06-25T20:00:00Z")
        );
        // 01:30 at UTC−5 is 06:30 UTC.
        let s = daily(DailyKind::Everyday, 1, 30, -5);
        assert_eq!(
            s.next_run_after(at("2026-06-24T05:00:00Z")),
            at("2026-06-24T06:30:00Z")
        );
    }

    #[test]
    fn week_days_skip_the_weekend() {
        // 2026-06-26 is a Friday.
        let s = daily(DailyKind::WeekDays, 22, 0, 0);
        assert_eq!(
            s.next_run_after(at("2026-06-26T23:00:00Z")),
            at("2026-06-29T22:00:00Z")
        );
        let s = daily(DailyKind::SelectedDays(vec![Weekday::Sunday]), 8, 0, 0);
        assert_eq!(
            s.next_run_after(at("2026-06-26T23:00:00Z")),
            at("2026-06-28T08:00:00Z")
        );
    }

    #[test]
    fn a_periodic_schedule_counts_from_local_midnight() {
        let every = |p| Schedule {
            kind: ScheduleKind::Periodically(p),
            utc_offset_hours: 0,
        };
        assert_eq!(
            every(Period::Hours(4)).next_run_after(at("2026-06-24T09:59:59.5Z")),
            at("2026-06-24T12:00:00Z")
        );
        assert_eq!(
            every(Period::Minutes(15)).next_run_after(at("2026-06-24T10:15:00Z")),
            at("2026-06-24T10:30:00Z")
        );
        // 7 hours: 00, 07, 14, 21, then the next midnight.
        assert_eq!(
            every(Period::Hours(7)).next_run_after(at("2026-06-24T21:30:00Z")),
            at("2026-06-25T00:00:00Z")
        );
    }

    #[test]
    fn attempts_past_the_list_repeat_the_last_outcome_and_reason() {
        let vm = JobVm {
            id: ObjectInJobId::new_random(),
            name: "srv05".into(),
            hierarchy_ref: String::new(),
            size_bytes: 0,
            duration_ms: 1,
            fail_ms: 1,
            outcomes: vec![JobOutcome::Failed, JobOutcome::Warning],
            reasons: vec![],
        };
        assert_eq!(vm.outcome(0), JobOutcome::Failed);
        assert_eq!(vm.outcome(5), JobOutcome::Warning);
        assert_eq!(
            vm.reason(0),
            "Processing srv05 Error: Cannot create snapshot."
        );
        assert_eq!(
            vm.reason(3),
            "Processing srv05 Warning: Failed to truncate transaction logs."
        );
    }

    fn any_schedule() -> impl Strategy<Value = Schedule> {
        let days = prop_oneof![
            Just(DailyKind::Everyday),
            Just(DailyKind::WeekDays),
            proptest::sample::subsequence(Weekday::ALL.to_vec(), 1..=7)
                .prop_map(DailyKind::SelectedDays),
        ];
        let daily = (days, 0u16..1440).prop_map(|(days, minute_of_day)| ScheduleKind::Daily {
            days,
            minute_of_day,
        });
        let periodic = prop_oneof![
            (1u32..=24).prop_map(Period::Hours),
            (1u32..=720).prop_map(Period::Minutes),
        ]
        .prop_map(ScheduleKind::Periodically);
        (prop_oneof![daily, periodic], -12i8..=14).prop_map(|(kind, utc_offset_hours)| Schedule {
            kind,
            utc_offset_hours,
        })
    }

    proptest! {
        /// `NextRun` is after now, in whole seconds, within eight days, and
        /// asking again a second before it gives it again.
        #[test]
        fn next_run_is_the_first_start_after_now(
            s in any_schedule(),
            micros in 1_700_000_000_000_000i64..1_900_000_000_000_000,
        ) {
            let now = Timestamp::from_micros(micros);
            let next = s.next_run_after(now);
            prop_assert!(next > now);
            prop_assert_eq!(next.micros() % 1_000_000, 0);
            prop_assert!(next.micros() - now.micros() <= 8 * 86_400 * 1_000_000);
            // From one second before `next`, the next start is `next` again.
            let just_before = Timestamp::from_micros(next.micros() - 1_000_000).max(now);
            prop_assert_eq!(s.next_run_after(just_before), next);
        }
    }
}
