//! The snapshot fixture: objects with the ids, names and times of the EM
//! documentation examples quoted in `shared/spec`, so that each snapshot can be
//! read side by side with the example it corresponds to.

use entman_model::ids::*;
use entman_model::job::*;
use entman_model::job_session::{Generation, JobSession, RunRequest, Trigger};
use entman_model::plan::VmOutcome;
use entman_model::plan::{Plan, PlanOptions, PlanState, PlanVm, VmBehaviour};
use entman_model::replica::{PointState, PointType, Replica, ReplicaPlatform, VmReplicaPoint};
use entman_model::server::BackupServer;
use entman_model::session::{
    FailoverSession, PointRef, SessionKind, SessionResult, SessionState, SessionTask, TaskPlan,
};
use entman_model::tenant::*;
use entman_model::Timestamp;
use entman_store::{Store, TenantCredential};
use uuid::Uuid;

/// Ids of the fixture, as the spec examples print them.
pub mod ids {
    /// The backup server.
    pub const SERVER: &str = "4ceb4e03-d23d-4c4e-be05-21580b260243";
    /// The standalone tenant.
    pub const TENANT: &str = "e38a8692-6816-443e-9052-7fa71ee7fd65";
    /// The vCloud tenant.
    pub const VCLOUD_TENANT: &str = "55d37e56-4f2f-40a9-894e-e094f57e6dd9";
    /// The tenant's replica.
    pub const REPLICA: &str = "8e7b8830-e42a-4b3e-b4fe-b52f1fccc91a";
    /// A point of the replica's VM.
    pub const POINT: &str = "8c027f2a-12a1-4c6f-a2af-d33e9a2c7b34";
    /// The tenant's plan.
    pub const PLAN: &str = "3f56fa52-c902-4655-9774-2025fde214d2";
    /// The plan's VM.
    pub const PLAN_VM: &str = "a4f16718-574c-40d1-8002-30e3b72581d6";
    /// A session that ended with Success.
    pub const FINISHED_SESSION: &str = "5d8c1a7e-3b7f-4c2e-9a41-0d6f2b9e8c11";
    /// A session still running.
    pub const RUNNING_SESSION: &str = "a986d473-0248-4884-9832-17ec982ee393";
    /// A session that ended with Failed.
    pub const FAILED_SESSION: &str = "12295005-66e6-477d-a6d3-1401dd27476e";
    /// The backup job (resources/jobs.md §3.4).
    pub const BACKUP_JOB: &str = "4856ab37-2235-45e8-affe-d515878b01a9";
    /// Its first include.
    pub const BACKUP_JOB_VM: &str = "0493ea16-2c1f-4d02-b74b-994bd438b89a";
    /// The replication job, without a schedule.
    pub const REPLICA_JOB: &str = "2c49a44e-1e59-4527-a6bc-6b2f9b579ee1";
    /// The immediate backup copy job of the backup job.
    pub const COPY_JOB: &str = "5adf6525-51d9-48b9-a72d-7f80701c714b";
    /// The backup job's run of 2026-06-22 (Warning; job-sessions.md §3.3).
    pub const BACKUP_RUN: &str = "d46e39e0-1131-4585-91a7-e828ce7eafae";
    /// Its srv04 task session.
    pub const BACKUP_RUN_TASK: &str = "88767486-89d6-4340-92f0-2ad615a8f21b";
    /// The backup job's run of 2026-06-23, running on the evening of that day.
    pub const RUNNING_BACKUP_RUN: &str = "bce9741f-d6aa-43ca-a229-1706c2eea0e7";
    /// The replication job's run of 2026-06-22.
    pub const REPLICA_RUN: &str = "0bcf5a1e-866c-4b40-8bc3-ce64753b9a6b";
    /// Its srv06 task session.
    pub const REPLICA_RUN_TASK: &str = "24590151-20cd-4e57-8a2f-8b65869a1879";
    /// The moment job-sessions.md's running session shows `Progress` 21.
    pub const RUN_MOMENT: &str = "2026-06-23T22:13:30Z";
}

fn id(s: &str) -> Uuid {
    Uuid::parse_str(s).expect("fixture ids are GUIDs")
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).expect("fixture times are valid")
}

/// The standalone tenant's logon: (user name, password).
pub const TENANT_LOGON: (&str, &str) = ("ABC Company", "Qwe123");

/// Writes the fixture into an empty store, job runs as an EM 12 server writes them.
pub async fn load(store: &dyn Store) {
    load_for(store, Generation::Em12).await;
}

/// Writes the fixture into an empty store, job runs at the generation's precision.
pub async fn load_for(store: &dyn Store, generation: Generation) {
    let server = BackupServer {
        id: BackupServerId(id(ids::SERVER)),
        name: "srv13.tech.local".into(),
        description: "Cloud Connect backup server".into(),
        port: 9392,
        version: "13.0.0.1420".into(),
        wcf_port: Some(9405),
        certificate_thumbprint: Some("3C9E1F4B0A7D6E2F5C8B1A0D9E7F6C5B4A3D2E1F".into()),
        username: "TECH\\Administrator".into(),
    };
    store.insert_server(&server, None).await.unwrap();
    let jobs = jobs(server.id);
    for job in &jobs {
        store.insert_job(job).await.unwrap();
    }
    for run in job_runs(&jobs, generation) {
        store.insert_job_session(&run).await.unwrap();
    }
    let tenant = standalone_tenant(server.id);
    let hash = entman_http::password::hash(TENANT_LOGON.1);
    store.insert_tenant(&tenant, Some(&hash)).await.unwrap();
    let vcloud = vcloud_tenant(server.id);
    store.insert_tenant(&vcloud, None).await.unwrap();
    store
        .insert_tenant_login(
            "TechCompanyOrg\\user01",
            &TenantCredential {
                tenant_id: vcloud.id,
                password_hash: hash,
            },
        )
        .await
        .unwrap();
    let replica = Replica {
        id: ReplicaId(id(ids::REPLICA)),
        backup_server_id: server.id,
        tenant_id: tenant.id,
        name: "Servers Replication".into(),
        platform: ReplicaPlatform::VMware,
    };
    store.insert_replica(&replica).await.unwrap();
    for (pid, vm, time) in [
        (
            "db1643e6-6775-4f22-98ca-ddd4ca4c715c",
            "filesrv03",
            "2025-06-21T20:01:04Z",
        ),
        (ids::POINT, "filesrv03", "2025-06-22T20:01:11Z"),
        (
            "796cbc20-c2be-4acf-bc1a-4e1e32d7df46",
            "filesrv04",
            "2025-06-22T20:02:20Z",
        ),
    ] {
        let point = VmReplicaPoint {
            id: PointId(id(pid)),
            replica_id: replica.id,
            vm_name: vm.into(),
            vm_display_name: vm.into(),
            creation_time: t(time),
            point_type: PointType::Snapshot,
            state: PointState::Ready,
        };
        store.insert_point(&point).await.unwrap();
    }
    let plan = Plan {
        id: PlanId(id(ids::PLAN)),
        backup_server_id: server.id,
        tenant_id: tenant.id,
        name: "ABC Company Failover Plan".into(),
        description: Some("Cloud failover plan for ABC Company full site failover".into()),
        options: PlanOptions::default(),
        state: PlanState::Ready,
        vms: vec![
            plan_vm(ids::PLAN_VM, "filesrv03", 0, replica.id),
            plan_vm(
                "2eb6ccd9-d41e-4cdb-8eb2-85add9479cf6",
                "filesrv04",
                1,
                replica.id,
            ),
        ],
    };
    store.insert_plan(&plan).await.unwrap();
    for session in sessions(&plan) {
        store.save_session(&session).await.unwrap();
    }
}

fn plan_vm(vm_id: &str, name: &str, order: i32, replica_id: ReplicaId) -> PlanVm {
    PlanVm {
        id: PlanVmId(id(vm_id)),
        name: name.into(),
        order,
        replica_id,
        behaviour: VmBehaviour::default(),
    }
}

fn standalone_tenant(server: BackupServerId) -> Tenant {
    Tenant {
        id: TenantId(id(ids::TENANT)),
        backup_server_id: server,
        name: "ABC Company".into(),
        description: "Tenant account for ABC Company".into(),
        enabled: true,
        lease_expiration: None,
        resources: vec![RepositoryQuota {
            id: id("502686fc-44ea-4f8b-b5f6-7c11a90aa12d"),
            display_name: "ABC Company Repository".into(),
            repository_id: id("5236d23a-c8a9-4bbf-9e4a-26b4c63e339d"),
            quota_mb: 204800,
            used_quota_mb: 49260,
        }],
        last_result: LastResult::Warning,
        last_active: Some(t("2020-02-03T07:13:02.22Z")),
        compute_resources: vec![ComputeResource {
            id: id("be65b70a-5305-43d3-bfeb-651c910118e7"),
            hardware_plan_id: id("1c355c26-faed-4625-a61a-71fb033935db"),
            platform: ComputePlatform::VMware,
            use_network_failover_resources: true,
            appliance_name: "ABC Company".into(),
            production_network: "VM Network".into(),
            obtain_ip_automatically: true,
            memory_usage_mb: 8192,
            cpu_count: 4,
            storages: vec![StorageStat {
                name: "Cloud Replicas".into(),
                usage_gb: 68,
                limit_gb: 300,
            }],
        }],
        throttling: Throttling {
            enabled: true,
            speed_limit: 10,
            unit: "MBps".into(),
        },
        counters: TenantCounters {
            public_ip_count: 2,
            backup_count: 2,
            replica_count: 2,
            max_concurrent_tasks: 2,
            workstation_backup_count: 0,
            server_backup_count: 0,
            backup_protection_enabled: true,
            backup_protection_period: 14,
        },
        kind: TenantKind::Standalone {
            username: "ABC Company".into(),
        },
    }
}

fn vcloud_tenant(server: BackupServerId) -> Tenant {
    Tenant {
        id: TenantId(id(ids::VCLOUD_TENANT)),
        backup_server_id: server,
        name: "TechCompanyOrg".into(),
        description: "Tenant account for TechCompany".into(),
        enabled: true,
        lease_expiration: None,
        resources: vec![RepositoryQuota {
            id: id("e464930b-7fb6-4cd4-992a-9c6c14eaf3b3"),
            display_name: "TechCompany Cloud Vol".into(),
            repository_id: id("5236d23a-c8a9-4bbf-9e4a-26b4c63e339d"),
            quota_mb: 102400,
            used_quota_mb: 85,
        }],
        last_result: LastResult::Failed,
        last_active: Some(t("2020-02-02T20:33:04.52Z")),
        compute_resources: vec![],
        throttling: Throttling { enabled: false, speed_limit: 1, unit: "MBps".into() },
        counters: TenantCounters {
            replica_count: 1,
            max_concurrent_tasks: 2,
            backup_protection_period: 1,
            ..TenantCounters::default()
        },
        kind: TenantKind::VCloud {
            organization_name: "TechCompanyOrg".into(),
            organization_ref: "urn:vCloud:Organization:7b8c3fa3-b664-43d6-8a59-19803997ce48.urn:vcloud:org:49c8966b-260a-4d3b-9bca-d0cc6349a9a6".into(),
            vdcs: vec![VCloudComputeResource {
                id: id("64318a39-a879-4a27-8e5d-58fae0fafaab"),
                vdc_name: "TechCompanyOrgVDC".into(),
                vdc_ref: "urn:vCloud:OrgVdc:7b8c3fa3-b664-43d6-8a59-19803997ce48.urn:vcloud:vdc:64318a39-a879-4a27-8e5d-58fae0fafaab".into(),
                enabled: true,
                allocation_model: "AllocationPool".into(),
                use_network_failover_resources: false,
                cpu_usage_mhz: 0,
                memory_usage_mb: 0,
                storage_usage_gb: 16,
            }],
        },
    }
}

fn task(
    vm: &str,
    point: (&str, &str),
    times: (&str, Option<&str>),
    state: SessionState,
    result: SessionResult,
    message: Option<&str>,
) -> SessionTask {
    SessionTask {
        vm_name: vm.into(),
        point: Some(PointRef {
            id: PointId(id(point.0)),
            name: point.1.into(),
        }),
        creation_time: t(times.0),
        end_time: times.1.map(t),
        state,
        result,
        progress: if state == SessionState::Stopped {
            100
        } else {
            0
        },
        failure_message: message.map(str::to_string),
        plan: None,
    }
}

/// The three sessions of failover-sessions.md §3.2 and §4.
fn sessions(plan: &Plan) -> Vec<FailoverSession> {
    let base = |sid: &str, created: &str| FailoverSession {
        id: SessionId(id(sid)),
        plan_id: plan.id,
        plan_name: plan.name.clone(),
        tenant_id: plan.tenant_id,
        backup_server_id: plan.backup_server_id,
        kind: SessionKind::Start,
        creation_time: t(created),
        end_time: None,
        state: SessionState::Working,
        result: SessionResult::None,
        progress: 0,
        failure_message: None,
        tasks: vec![],
    };
    let finished = FailoverSession {
        end_time: Some(t("2025-06-23T09:15:02.5Z")),
        state: SessionState::Stopped,
        result: SessionResult::Warning,
        progress: 100,
        tasks: vec![
            task(
                "filesrv03",
                (ids::POINT, "filesrv03@2025-06-22 20:01:11"),
                ("2025-06-23T09:12:50.13Z", Some("2025-06-23T09:14:40.2Z")),
                SessionState::Stopped,
                SessionResult::Success,
                None,
            ),
            task(
                "filesrv04",
                (
                    "796cbc20-c2be-4acf-bc1a-4e1e32d7df46",
                    "filesrv04@2025-06-22 20:02:20",
                ),
                ("2025-06-23T09:12:50.14Z", Some("2025-06-23T09:15:01.9Z")),
                SessionState::Stopped,
                SessionResult::Warning,
                Some("Network reconfiguration skipped: no production network mapping."),
            ),
        ],
        ..base(ids::FINISHED_SESSION, "2025-06-23T09:12:45.077Z")
    };
    // The running session of the example stays running: its VMs are planned to
    // take ten thousand years, so the engine keeps it Working at progress 0.
    let long = |mut t: SessionTask| {
        t.plan = Some(TaskPlan {
            duration_ms: 10_000 * 365 * 86_400_000,
            outcome: VmOutcome::Success,
            message: None,
        });
        t
    };
    let running = FailoverSession {
        tasks: vec![
            long(task(
                "filesrv03",
                (
                    "c1beab6b-2b18-47f1-9e71-354ab8a49fc2",
                    "filesrv03@2020-02-13 05:00:46",
                ),
                ("2020-05-06T20:29:50.13Z", None),
                SessionState::Working,
                SessionResult::None,
                None,
            )),
            long(task(
                "filesrv04",
                (
                    "796cbc20-c2be-4acf-bc1a-4e1e32d7df46",
                    "filesrv04@2020-02-13 06:02:20",
                ),
                ("2020-05-06T20:29:50.14Z", None),
                SessionState::Starting,
                SessionResult::None,
                None,
            )),
        ],
        ..base(ids::RUNNING_SESSION, "2020-05-06T20:29:45.077Z")
    };
    let failed = FailoverSession {
        end_time: Some(t("2025-06-20T16:23:16.11Z")),
        state: SessionState::Stopped,
        result: SessionResult::Failed,
        progress: 100,
        failure_message: Some(
            "No restore point created before 2025-06-01T00:00:00Z was found for VM filesrv03."
                .into(),
        ),
        ..base(ids::FAILED_SESSION, "2025-06-20T16:21:35.74Z")
    };
    vec![finished, running, failed]
}

/// The runs of job-sessions.md §2–6: the backup job's finished run of
/// 2026-06-22 (srv04 Success, srv05 Warning), its run of 2026-06-23 (running
/// until 23:11), the replication job's run of 2026-06-22; ids as printed there.
fn job_runs(jobs: &[Job], generation: Generation) -> Vec<JobSession> {
    let run = |job: &Job, run_id: &str, created: &str, tasks: &[(&str, &str, &str)]| {
        let vms: Vec<(usize, &JobVm, usize)> = job
            .vms
            .iter()
            .enumerate()
            .map(|(i, vm)| (i, vm, 0))
            .collect();
        let mut session = JobSession::create(RunRequest {
            id: id(run_id),
            job,
            vms: &vms,
            created: Timestamp::parse(created).expect("a time"),
            scale: 1.0,
            trigger: Trigger::Schedule,
            generation,
        });
        for (task, (task_id, vm_point, restore_point)) in session.tasks.iter_mut().zip(tasks) {
            task.id = id(task_id);
            task.vm_point_id = id(vm_point);
            task.restore_point_id = id(restore_point);
        }
        session
    };
    vec![
        run(
            &jobs[0],
            ids::BACKUP_RUN,
            // The EM 13 example's time; EM 12 keeps 22:00:03.17 of it.
            "2026-06-22T22:00:03.170912Z",
            &[
                (
                    ids::BACKUP_RUN_TASK,
                    "fb87163e-687d-4006-96c9-0451b5423b85",
                    "a2d7d2a9-8407-4585-9649-515ecb04b35a",
                ),
                (
                    "5c8add49-6b08-4147-bc38-00293667728a",
                    "63f5c565-ef34-441f-ad7f-005efb16ca91",
                    "457eac86-dcef-45e7-8c97-04554c19ef31",
                ),
            ],
        ),
        run(
            &jobs[0],
            ids::RUNNING_BACKUP_RUN,
            "2026-06-23T22:00:02.360912Z",
            &[
                (
                    "b30ba205-609d-40ed-8775-715d7a007974",
                    "9d5f3f0e-3a57-4f0c-8a8e-2f1b0c7d6e54",
                    "c4e2a1b7-6d3f-4e8a-9b0c-1d2e3f4a5b6c",
                ),
                (
                    "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b",
                    "f2a3b4c5-d6e7-4f8a-9b0c-1d2e3f4a5b6c",
                    "a3b4c5d6-e7f8-4a9b-8c0d-1e2f3a4b5c6d",
                ),
            ],
        ),
        run(
            &jobs[1],
            ids::REPLICA_RUN,
            "2026-06-22T06:46:31.200912Z",
            &[(
                ids::REPLICA_RUN_TASK,
                "623cbbec-c8ff-4cf4-96be-d433f3b775c7",
                "b4c5d6e7-f8a9-4b0c-9d1e-2f3a4b5c6d7e",
            )],
        ),
    ]
}

/// The jobs of resources/jobs.md §3.4–3.5 and jobs-domain.md §8.9.
fn jobs(server: BackupServerId) -> Vec<Job> {
    let vm = |vid: &str, name: &str, moref: u32, gib: u64, seconds: u64, outcome| JobVm {
        id: ObjectInJobId(id(vid)),
        name: name.into(),
        hierarchy_ref: format!("urn:VMware:Vm:3b8ebdcc-41de-4c42-a001-a344f2e75550.vm-{moref}"),
        size_bytes: gib << 30,
        duration_ms: seconds * 1000,
        fail_ms: 55_000,
        outcomes: vec![outcome],
        reasons: Vec::new(),
    };
    let created = NaiveDate::from_ymd_opt(2026, 1, 12).expect("a date");
    let base = Job {
        id: JobId(id(ids::BACKUP_JOB)),
        backup_server_id: server,
        name: "Fileserver Backup".into(),
        job_type: JobType::Backup,
        platform: Some(Platform::VMware),
        description: "Backup of file servers".into(),
        created,
        schedule_enabled: true,
        schedule: Some(Schedule {
            kind: ScheduleKind::Daily {
                days: DailyKind::Everyday,
                minute_of_day: 22 * 60,
            },
            utc_offset_hours: 0,
        }),
        retry: RetryOptions {
            times: 3,
            timeout_minutes: 10,
        },
        timing: RunTiming {
            startup_ms: 45_000,
            finalize_ms: 4_000,
            stop_ms: 5_000,
            max_concurrent_tasks: 1,
        },
        backup: BackupOptions {
            retain_points: 7,
            full_backup_days: vec![Weekday::Monday],
            compression_percent: 50,
            change_rate_percent: 5,
        },
        vms: vec![
            vm(
                ids::BACKUP_JOB_VM,
                "srv04",
                62230,
                60,
                1814,
                JobOutcome::Success,
            ),
            JobVm {
                reasons: vec![
                    "Processing srv05 Warning: Failed to truncate Microsoft SQL Server transaction logs."
                        .into(),
                ],
                ..vm(
                    "51e37e0e-800a-4639-a2c7-0379330ea1ee",
                    "srv05",
                    62228,
                    100,
                    2420,
                    JobOutcome::Warning,
                )
            },
        ],
        source_jobs: Vec::new(),
    };
    let replica = Job {
        id: JobId(id(ids::REPLICA_JOB)),
        name: "Fileserver02 Replication".into(),
        job_type: JobType::Replica,
        description: "Created by SRV13\\Administrator at 1/12/2026 9:14 AM.".into(),
        schedule: None,
        vms: vec![vm(
            "d8f628b7-6fe4-498b-bfca-01a167b2124c",
            "srv06",
            62231,
            60,
            917,
            JobOutcome::Success,
        )],
        ..base.clone()
    };
    let copy = Job {
        id: JobId(id(ids::COPY_JOB)),
        name: "Fileserver Backup Copy".into(),
        job_type: JobType::ImmediateBackupCopy,
        platform: None,
        description: "Copy of file server backups to the DR site".into(),
        schedule: None,
        vms: Vec::new(),
        source_jobs: vec![LinkedJob {
            id: ObjectInJobId(id("64d63522-92a0-491c-af3b-e428019fbfd4")),
            job: base.id,
        }],
        ..base.clone()
    };
    vec![base, replica, copy]
}
