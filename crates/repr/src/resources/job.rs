//! Jobs and their includes (resources/jobs.md §2–4).
//!
//! The entity carries EM's fixed templates (guest processing, monthly and
//! continuous options, retention) around what the world decides: type,
//! platform, schedule, retry options, includes, linked source jobs.

use super::{entity, link, reference, Ctx, Placement, Represent};
use crate::node::{Node, Value};
use entman_model::job::{DailyKind, Job, JobType, JobVm, Period, ScheduleKind, Weekday};
use entman_model::server::BackupServer;
use entman_model::{JobId, Timestamp};

/// A job with the related objects its links and fields name.
#[derive(Debug, Clone, Copy)]
pub struct JobView<'a> {
    /// The job.
    pub job: &'a Job,
    /// Its backup server.
    pub server: &'a BackupServer,
    /// The clock, for `NextRun`.
    pub now: Timestamp,
}

fn href(ctx: &Ctx, id: JobId) -> String {
    ctx.url(&format!("/jobs/{id}"))
}

/// The job's session list link: `backupSessions`, or `replicaSessions` for replication jobs.
fn sessions_link(base: &str, job_type: JobType) -> Node {
    match job_type {
        JobType::Replica => link(
            "Down",
            format!("{base}/replicaSessions"),
            None,
            Some("ReplicaJobSessionReferenceList"),
        ),
        _ => link(
            "Down",
            format!("{base}/backupSessions"),
            None,
            Some("BackupJobSessionReferenceList"),
        ),
    }
}

fn up(ctx: &Ctx, server: &BackupServer) -> Node {
    super::up_to_server(ctx, server)
}

impl Represent for JobView<'_> {
    /// Reference representation (§2).
    fn reference(&self, ctx: &Ctx, placement: Placement) -> Node {
        let job = self.job;
        let base = href(ctx, job.id);
        let links = vec![
            up(ctx, self.server),
            link(
                "Alternate",
                format!("{base}?format=Entity"),
                Some(&job.name),
                Some("Job"),
            ),
            sessions_link(&base, job.job_type),
        ];
        reference(
            placement,
            job.id.uid(),
            &job.name,
            base,
            "JobReference",
            links,
        )
    }

    /// Entity representation (§3).
    fn entity(&self, ctx: &Ctx, _placement: Placement) -> Node {
        let job = self.job;
        let base = href(ctx, job.id);
        let platform = job.platform.map_or("CustomPlatform", |p| p.as_str());
        entity(
            "Job",
            format!("{base}?format=Entity"),
            "Job",
            &job.name,
            job.id.uid(),
            self.links(ctx, &base),
        )
        .elem(2, "JobType", job.job_type.as_str())
        .elem(2, "Platform", platform)
        .elem(2, "Description", job.description.as_str())
        .elem(2, "ScheduleConfigured", job.schedule_configured())
        .elem(2, "ScheduleEnabled", job.schedule_enabled)
        .elem(
            2,
            "NextRun",
            job.next_run(self.now).map_or(Value::Omit, Value::Date),
        )
        .elem(2, "JobScheduleOptions", schedule_options(job))
        .elem(2, "JobInfo", job_info(ctx, job))
    }
}

impl JobView<'_> {
    /// The entity's links (§3.1), by job kind.
    fn links(&self, ctx: &Ctx, base: &str) -> Vec<Node> {
        let job = self.job;
        let name = Some(job.name.as_str());
        let action = |rel: &'static str, action: &str| {
            link(rel, format!("{base}?action={action}"), None, None)
        };
        let mut links = vec![
            up(ctx, self.server),
            link("Alternate", base.to_string(), name, Some("JobReference")),
        ];
        if job.job_type.is_copy() {
            links.extend([
                action("Clone", "clone"),
                action("ToggleScheduleEnabled", "toggleScheduleEnabled"),
                sessions_link(base, job.job_type),
                action("Sync", "sync"),
                link(
                    "Down",
                    format!("{base}/linkedJobs"),
                    None,
                    Some("LinkedJobObjectList"),
                ),
                link(
                    "Down",
                    format!("{base}/linkedBackupRepositories"),
                    None,
                    Some("LinkedBackupRepositoryObjectList"),
                ),
                link(
                    "Create",
                    format!("{base}/linkedJobs"),
                    None,
                    Some("LinkedJobObject"),
                ),
                link(
                    "Create",
                    format!("{base}/linkedBackupRepositories"),
                    None,
                    Some("LinkedBackupRepositoryObject"),
                ),
            ]);
        } else {
            links.extend([
                link("Edit", base.to_string(), name, Some("JobReference")),
                action("Clone", "clone"),
                action("ToggleScheduleEnabled", "toggleScheduleEnabled"),
                link(
                    "Down",
                    format!("{base}/includes"),
                    None,
                    Some("ObjectInJobList"),
                ),
                sessions_link(base, job.job_type),
                link(
                    "Create",
                    format!("{base}/includes"),
                    None,
                    Some("ObjectInJob"),
                ),
                action("Start", "start"),
                action("Stop", "stop"),
                action("Retry", "retry"),
            ]);
        }
        links
    }
}

/// An include (§4): with its `Up` and `Delete` links on its own resource and in
/// its list, without links inside a job entity.
pub fn object_in_job(ctx: &Ctx, job: &Job, vm: &JobVm, with_links: bool) -> Node {
    let job_href = href(ctx, job.id);
    let own = format!("{job_href}/includes/{}", vm.id);
    let links = if with_links {
        Value::Links(vec![
            link("Up", job_href, Some(&job.name), Some("JobReference")),
            link("Delete", own.clone(), None, Some("ObjectInJob")),
        ])
    } else {
        Value::Null
    };
    Node::new("ObjectInJob")
        .elem(0, "Links", links)
        .attr(0, "Href", own)
        .attr(0, "Type", "ObjectInJob")
        .elem(1, "ObjectInJobId", vm.id.to_string())
        .elem(1, "HierarchyObjRef", vm.hierarchy_ref.as_str())
        .elem(1, "Name", vm.name.as_str())
        .elem(1, "DisplayName", vm.name.as_str())
        .elem(1, "GuestProcessingOptions", guest_processing(true))
}

/// `ObjectsInJob`: a job's includes in processing order (JSON `{"ObjectInJobs": [...]}`).
pub fn objects_in_job(ctx: &Ctx, job: &Job) -> Node {
    let items = job
        .vms
        .iter()
        .map(|vm| object_in_job(ctx, job, vm, true))
        .collect();
    Node::new("ObjectsInJob").elem(0, "ObjectInJobs", Value::Items(items))
}

// --- JobScheduleOptions (§3.2) ------------------------------------------------

/// The 24 hourly flags of a day, all on.
const ALL_HOURS: &str = "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1";

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn schedule_options(job: &Job) -> Node {
    let (standart, immediate) = if job.job_type == JobType::ImmediateBackupCopy {
        let continuous = Node::new("OptionsContinuous")
            .attr(0, "Enabled", true)
            .elem(0, "Schedule", days_of_hours("Days"));
        (
            Value::Null,
            Value::Node(Node::new("ImmediateCopyMode").elem(0, "OptionsContinuous", continuous)),
        )
    } else {
        (Value::Node(standart(job)), Value::Null)
    };
    Node::new("JobScheduleOptions")
        .elem(0, "Standart", standart)
        .elem(0, "ImmediateCopyMode", immediate)
        // The .NET type derives from ResourceType: JSON has its two keys.
        .elem(0, "Links", Value::JsonOnly(Box::new(Value::Null)))
        .elem(
            0,
            "Href",
            Value::JsonOnly(Box::new(Value::Text(String::new()))),
        )
}

/// Seven `<Day Name="…">1,…</Day>` (JSON `{"Days": [{"Name", "Value"}]}`).
fn days_of_hours(json_key: &'static str) -> Value {
    Value::List {
        json_key,
        items: Weekday::ALL
            .iter()
            .map(|d| {
                Node::new("Day")
                    .attr(1, "Name", d.as_str())
                    .text(0, "Value", ALL_HOURS)
            })
            .collect(),
    }
}

/// A schedule time: XML `HH:mm:ss.0000000±hh:mm` on the server's clock; JSON a
/// date-time on the job's creation day, with or without the offset.
fn schedule_time(job: &Job, minute_of_day: u16, offset_hours: i8, json_offset: bool) -> [Value; 2] {
    let (h, m) = (minute_of_day / 60, minute_of_day % 60);
    let sign = if offset_hours < 0 { '-' } else { '+' };
    let offset = format!("{sign}{:02}:00", offset_hours.unsigned_abs());
    let xml = format!("{h:02}:{m:02}:00.0000000{offset}");
    let date = job.created.format("%Y-%m-%d");
    let json = if json_offset {
        format!("{date}T{h:02}:{m:02}:00{offset}")
    } else {
        format!("{date}T{h:02}:{m:02}:00")
    };
    [
        Value::XmlOnly(Box::new(Value::Text(xml))),
        Value::JsonOnly(Box::new(Value::Text(json))),
    ]
}

fn standart(job: &Job) -> Node {
    const TEMPLATE_TIME: u16 = 22 * 60;
    let offset = job.schedule.as_ref().map_or(0, |s| s.utc_offset_hours);
    // Which option is on: the daily one for a daily schedule and for none at all
    // (the unscheduled job of the EM examples), the periodic one for a periodic
    // schedule (with the daily template off).
    let (daily_on, days, minute, period) = match job.schedule.as_ref().map(|s| &s.kind) {
        Some(ScheduleKind::Daily {
            days,
            minute_of_day,
        }) => (true, days.clone(), *minute_of_day, None),
        Some(ScheduleKind::Periodically(p)) => {
            (false, DailyKind::Everyday, TEMPLATE_TIME, Some(*p))
        }
        None => (true, DailyKind::Everyday, TEMPLATE_TIME, None),
    };
    let [daily_xml, daily_json] = schedule_time(job, minute, offset, false);
    let daily = Node::new("OptionsDaily")
        .attr(0, "Enabled", daily_on)
        .elem(0, "Kind", days.as_str())
        .elem(
            0,
            "Days",
            Value::Texts(days.days().iter().map(|d| d.as_str().to_string()).collect()),
        )
        .elem(0, "Time", daily_xml)
        .elem(0, "Time", daily_json)
        .elem(0, "TimeOffsetUtc", i64::from(offset));
    let [monthly_xml, monthly_json] = schedule_time(job, TEMPLATE_TIME, offset, true);
    let monthly = Node::new("OptionsMonthly")
        .attr(0, "Enabled", false)
        .elem(0, "Time", monthly_xml)
        .elem(0, "Time", monthly_json)
        .elem(0, "TimeOffsetUtc", i64::from(offset))
        .elem(0, "DayNumberInMonth", "Fourth")
        .elem(0, "DayOfWeek", "Saturday")
        .elem(
            0,
            "Months",
            Value::Texts(MONTHS.iter().map(|m| (*m).to_string()).collect()),
        )
        .elem(0, "DayOfMonth", 1i64);
    let (kind, full_period) = match period.unwrap_or(Period::Hours(1)) {
        Period::Hours(h) => ("Hours", h),
        Period::Minutes(m) => ("Minutes", m),
    };
    let periodically = Node::new("OptionsPeriodically")
        .attr(0, "Enabled", period.is_some())
        .elem(0, "Kind", kind)
        .elem(0, "FullPeriod", i64::from(full_period))
        .elem(0, "Schedule", days_of_hours("Days"));
    let retry = Node::new("RetryOptions")
        .elem(0, "RetryTimes", i64::from(job.retry.times))
        .elem(0, "RetryTimeout", i64::from(job.retry.timeout_minutes))
        // The .NET property is renamed in JSON (`RetrySpecified1`).
        .elem(
            0,
            "RetrySpecified",
            Value::XmlOnly(Box::new(Value::Bool(job.retry.times > 0))),
        )
        .elem(
            0,
            "RetrySpecified1",
            Value::JsonOnly(Box::new(Value::Bool(job.retry.times > 0))),
        );
    Node::new("Standart")
        .elem(0, "RetryOptions", retry)
        .elem(0, "WaitForBackupCompletion", true)
        .elem(0, "BackupCompetitionWaitingPeriodMin", 180i64)
        .elem(0, "OptionsDaily", daily)
        .elem(0, "OptionsMonthly", monthly)
        .elem(0, "OptionsPeriodically", periodically)
        .elem(
            0,
            "OptionsContinuous",
            Node::new("OptionsContinuous")
                .attr(0, "Enabled", false)
                .elem(0, "Schedule", days_of_hours("Days")),
        )
        .elem(
            0,
            "OptionsBackupWindow",
            Node::new("OptionsBackupWindow")
                .attr(0, "Enabled", false)
                .elem(0, "TimePeriods", days_of_hours("Days")),
        )
        .elem(
            0,
            "OptionsDaisyChaining",
            Node::new("OptionsDaisyChaining")
                .attr(0, "Enabled", false)
                .elem(0, "PreviousJobUid", ""),
        )
}

// --- JobInfo (§3.3) -------------------------------------------------------------

fn job_info(ctx: &Ctx, job: &Job) -> Node {
    let mut members: [(&'static str, Value); 5] = [
        ("BackupJobInfo", Value::Null),
        ("FileCopyJobInfo", Value::Null),
        ("ReplicaJobInfo", Value::Null),
        ("BackupCopyJobInfo", Value::Null),
        ("ImmediateBackupCopyJobInfo", Value::Null),
    ];
    let slot = match job.job_type {
        JobType::Backup => 0,
        JobType::Replica => 2,
        JobType::BackupCopy => 3,
        JobType::ImmediateBackupCopy => 4,
    };
    let name = members[slot].0;
    members[slot].1 = Value::Node(info_of(ctx, job, name));
    members
        .into_iter()
        .fold(Node::new("JobInfo"), |node, (name, value)| {
            node.elem(0, name, value)
        })
}

fn info_of(ctx: &Ctx, job: &Job, name: &'static str) -> Node {
    let includes = || Value::List {
        json_key: "ObjectInJobs",
        items: job
            .vms
            .iter()
            .map(|vm| object_in_job(ctx, job, vm, false))
            .collect(),
    };
    let linked_jobs = || Value::List {
        json_key: "LinkedJobObjects",
        items: job
            .source_jobs
            .iter()
            .map(|l| {
                Node::new("LinkedJobObject")
                    .elem(0, "ObjectInJobId", l.id.to_string())
                    .elem(0, "LinkedJobUid", l.job.uid())
            })
            .collect(),
    };
    let empty = |json_key| Value::List {
        json_key,
        items: Vec::new(),
    };
    let storage = || Node::new("AdvancedStorageOptions").elem(0, "PasswordKeyId", "");
    let node = Node::new(name);
    match job.job_type {
        JobType::Backup => node
            .elem(0, "Includes", includes())
            .elem(0, "GuestProcessingOptions", guest_processing(false))
            .elem(0, "AdvancedStorageOptions", storage())
            .elem(0, "GfsRetentionPolicy", gfs_policy())
            .elem(
                0,
                "SimpleRetentionPolicy",
                Node::new("SimpleRetentionPolicy")
                    .elem(0, "RetainCycles", i64::from(job.backup.retain_points))
                    .elem(0, "RetainDaysToKeep", 7i64)
                    .elem(0, "RetainLimitType", "Cycles"),
            ),
        JobType::Replica => node.elem(0, "Includes", includes()).elem(
            0,
            "GuestProcessingOptions",
            guest_processing(false),
        ),
        JobType::BackupCopy => node
            .elem(0, "Includes", includes())
            .elem(0, "LinkedJobIncludes", linked_jobs())
            .elem(0, "AdvancedStorageOptions", storage())
            .elem(0, "LinkedBackupIncludes", empty("LinkedBackups")),
        JobType::ImmediateBackupCopy => node
            .elem(0, "LinkedJobIncludes", linked_jobs())
            .elem(0, "LinkedBackupIncludes", empty("LinkedBackups"))
            .elem(
                0,
                "LinkedBackupRepositoryIncludes",
                empty("LinkedBackupRepositories"),
            ),
    }
}

fn gfs_policy() -> Node {
    let period = |name: &'static str, key: &'static str, value: &'static str| {
        Node::new(name)
            .elem(0, "Enabled", false)
            .elem(0, "RetentionPeriod", 1i64)
            .elem(0, key, value)
    };
    Node::new("GfsRetentionPolicy")
        .attr(0, "Enabled", false)
        .elem(0, "Weekly", period("Weekly", "SelectedDay", "Sunday"))
        .elem(0, "Monthly", period("Monthly", "SelectedWeek", "First"))
        .elem(0, "Yearly", period("Yearly", "SelectedMonth", "January"))
}

const WINDOWS_EXCLUDED: [&str; 5] = [
    "%windir%",
    "%ProgramFiles%",
    "%ProgramFiles(x86)%",
    "%ProgramW6432%",
    "%TEMP%",
];
const LINUX_EXCLUDED: [&str; 7] = [
    "/cdrom",
    "/dev",
    "/media",
    "/mnt",
    "/proc",
    "/tmp",
    "/lost+found",
];

/// `GuestProcessingOptions`: the per-object template (`per_object`) or the
/// job-level one (§3.3). JSON has keys XML never writes, `null`.
fn guest_processing(per_object: bool) -> Node {
    let folders = |items: &[&str]| Value::Strings {
        item: "Path",
        items: items.iter().map(|p| (*p).to_string()).collect(),
    };
    let indexing = |name: &'static str, excluded: &[&str]| {
        let (mode, excluded) = if per_object {
            ("ExceptSpecifiedFolders", folders(excluded))
        } else {
            ("Disabled", folders(&[]))
        };
        Node::new(name)
            .elem(0, "FileSystemIndexingMode", mode)
            .elem(0, "IncludedIndexingFolders", folders(&[]))
            .elem(0, "ExcludedIndexingFolders", excluded)
    };
    let vss = if per_object {
        "RequireSuccess"
    } else {
        "Disabled"
    };
    Node::new("GuestProcessingOptions")
        .elem(0, "AppAwareProcessingMode", Value::Null)
        .elem(0, "FileSystemIndexingMode", Value::Null)
        .elem(0, "IncludedIndexingFolders", Value::Null)
        .elem(0, "ExcludedIndexingFolders", Value::Null)
        .elem(0, "CredentialsId", Value::Null)
        .elem(
            0,
            "VssSnapshotOptions",
            Node::new("VssSnapshotOptions")
                .elem(0, "VssSnapshotMode", vss)
                .elem(0, "IsCopyOnly", false),
        )
        .elem(
            0,
            "WindowsGuestFSIndexingOptions",
            indexing("WindowsGuestFSIndexingOptions", &WINDOWS_EXCLUDED),
        )
        .elem(
            0,
            "LinuxGuestFSIndexingOptions",
            indexing("LinuxGuestFSIndexingOptions", &LINUX_EXCLUDED),
        )
        .elem(
            0,
            "SqlBackupOptions",
            Node::new("SqlBackupOptions")
                .elem(0, "TransactionLogsProcessing", "OnlyOnSuccessJob")
                .elem(0, "BackupLogsFrequencyMin", 15i64)
                .elem(0, "UseDbBackupRetention", true)
                .elem(0, "RetainDays", 15i64),
        )
        .elem(0, "WindowsCredentialsId", "")
        .elem(0, "LinuxCredentialsId", "")
        .elem(0, "FSFileExcludeOptions", Value::Null)
        .elem(0, "OracleBackupOptions", Value::Null)
}
