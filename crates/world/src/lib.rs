//! World definitions: what backup servers, tenants, replicas, points, plans and
//! past sessions an entman server starts with.
//!
//! A world is a TOML file ([`format`]); [`demo_world`] is the built-in one. [`load`]
//! validates a world and writes it into an empty [`Store`]; after that the store is
//! the only truth and the file is not read again.

pub mod format;
pub mod history;
pub mod job_history;
mod job_sessions;
mod jobs;

use entman_model::ids::*;
use entman_model::job_session::Generation;
use entman_model::plan::{Plan, PlanOptions, PlanState, PlanVm, VmBehaviour};
use entman_model::replica::{PointState, Replica, VmReplicaPoint};
use entman_model::server::BackupServer;
use entman_model::tenant::*;
use entman_model::Timestamp;
use entman_store::{Store, StoreError, TenantCredential};
pub use format::World;
use std::collections::HashMap;
use uuid::Uuid;

/// The built-in demo world, as TOML.
pub const DEMO_WORLD: &str = include_str!("../demo.toml");

/// Why a world cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// The file is not valid TOML or does not follow the format.
    #[error("invalid world file: {0}")]
    Parse(String),
    /// A name refers to nothing, is used twice, or a value is invalid.
    #[error("invalid world: {0}")]
    Invalid(String),
    /// Writing to the store failed.
    #[error("could not store the world: {0}")]
    Store(#[from] StoreError),
}

/// Parses a world file.
pub fn parse(text: &str) -> Result<World, WorldError> {
    toml::from_str(text).map_err(|e| WorldError::Parse(e.to_string()))
}

/// The built-in demo world.
pub fn demo_world() -> World {
    parse(DEMO_WORLD).expect("the built-in demo world is valid")
}

/// Checks a world without writing anything: names, references and values.
pub fn check(world: &World) -> Result<(), WorldError> {
    build(world, Timestamp::now()).map(|_| ())
}

/// The text of the built-in demo world.
pub fn demo_text() -> &'static str {
    DEMO_WORLD
}

/// Metadata keys under which the loaded world is recorded, so that a reset can
/// load it again as it was: its name, its text and the time it was anchored at.
const META_NAME: &str = "world";
const META_TEXT: &str = "world_text";
const META_ANCHOR: &str = "world_anchor";

/// Loads the world `text` (named `name`, anchored at `anchor`) and records it.
pub async fn install(
    store: &dyn Store,
    name: &str,
    text: &str,
    anchor: Timestamp,
    generation: Generation,
    hash: &(dyn Fn(&str) -> String + Sync),
) -> Result<LoadReport, WorldError> {
    let world = parse(text)?;
    let report = load(store, &world, anchor, generation, hash).await?;
    store.set_meta(META_TEXT, text).await?;
    store
        .set_meta(META_ANCHOR, &anchor.micros().to_string())
        .await?;
    store.set_meta(META_NAME, name).await?;
    Ok(report)
}

/// The world recorded by [`install`]: name, text and anchor. Databases loaded
/// before worlds were recorded give the demo world for the name `demo`.
pub async fn recorded(
    store: &dyn Store,
) -> Result<Option<(String, String, Timestamp)>, WorldError> {
    let Some(name) = store.meta(META_NAME).await? else {
        return Ok(None);
    };
    let text = match store.meta(META_TEXT).await? {
        Some(text) => text,
        None if name == "demo" => DEMO_WORLD.to_string(),
        None => return Ok(None),
    };
    let anchor = store
        .meta(META_ANCHOR)
        .await?
        .and_then(|m| m.parse::<i64>().ok())
        .map_or_else(Timestamp::now, Timestamp::from_micros);
    Ok(Some((name, text, anchor)))
}

/// What [`load`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Backup servers written.
    pub servers: usize,
    /// Tenants written.
    pub tenants: usize,
    /// Replicas written.
    pub replicas: usize,
    /// Replica points written.
    pub points: usize,
    /// Plans written.
    pub plans: usize,
    /// History sessions written.
    pub sessions: usize,
    /// Jobs written.
    pub jobs: usize,
    /// Past job runs written (`[jobs_history]`).
    pub job_runs: usize,
}

/// A stable id for a named world object (UUID v5 over kind and name).
fn derived_id(kind: &str, name: &str) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0x6f1f_3c2e_9b7a_4d15_8e0c_5a2b_1d4e_7f90);
    Uuid::new_v5(&NAMESPACE, format!("{kind}\u{0}{name}").as_bytes())
}

fn parse_enum<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, WorldError> {
    value
        .parse()
        .map_err(|_| WorldError::Invalid(format!("{what}: [{value}] is not a valid value")))
}

fn parse_time(what: &str, value: &str) -> Result<Timestamp, WorldError> {
    Timestamp::parse(value).ok_or_else(|| {
        WorldError::Invalid(format!("{what}: [{value}] is not an ISO 8601 date-time"))
    })
}

/// A tenant, its standalone password, and its vCloud users (login, password).
type TenantParts = (Tenant, Option<String>, Vec<(String, String)>);

/// Validated world objects, ready to be written.
struct Built {
    servers: Vec<BackupServer>,
    tenants: Vec<TenantParts>,
    replicas: Vec<Replica>,
    points: Vec<VmReplicaPoint>,
    plans: Vec<Plan>,
    jobs: Vec<entman_model::job::Job>,
}

/// Validates `world` and writes it into `store`. `hash` turns a password into the
/// stored PHC hash; `now` anchors generated points and history.
pub async fn load(
    store: &dyn Store,
    world: &World,
    now: Timestamp,
    generation: Generation,
    hash: &(dyn Fn(&str) -> String + Sync),
) -> Result<LoadReport, WorldError> {
    let built = build(world, now)?;
    let mut job_runs = job_sessions::build(&world.jobs, &built.jobs, now, generation)?;
    if let Some(h) = &world.jobs_history {
        check_history(h)?;
        let generated = job_history::generate(h, &built.jobs, &job_runs, now, generation);
        job_runs.extend(generated);
    }
    let sessions = match &world.history {
        Some(h) => history::generate(h, &built.plans, &built.points, now),
        None => Vec::new(),
    };
    for s in &built.servers {
        store.insert_server(s, None).await?;
    }
    for (t, password, vcloud_users) in &built.tenants {
        store
            .insert_tenant(t, password.as_deref().map(hash).as_deref())
            .await?;
        for (login, password) in vcloud_users {
            let cred = TenantCredential {
                tenant_id: t.id,
                password_hash: hash(password),
            };
            store
                .insert_tenant_login(&format!("{}\\{}", t.name, login), &cred)
                .await?;
        }
    }
    for r in &built.replicas {
        store.insert_replica(r).await?;
    }
    for p in &built.points {
        store.insert_point(p).await?;
    }
    for p in &built.plans {
        store.insert_plan(p).await?;
    }
    for s in &sessions {
        store.save_session(s).await?;
    }
    for j in &built.jobs {
        store.insert_job(j).await?;
    }
    for run in &job_runs {
        store.insert_job_session(run).await?;
    }
    Ok(LoadReport {
        servers: built.servers.len(),
        tenants: built.tenants.len(),
        replicas: built.replicas.len(),
        points: built.points.len(),
        plans: built.plans.len(),
        sessions: sessions.len(),
        jobs: built.jobs.len(),
        job_runs: job_runs.len(),
    })
}

/// `[jobs_history]` values out of range are load errors.
fn check_history(h: &format::JobsHistoryDef) -> Result<(), WorldError> {
    let rate = |what: &str, v: f64| {
        if (0.0..=1.0).contains(&v) {
            Ok(())
        } else {
            Err(WorldError::Invalid(format!(
                "jobs_history: {what} [{v}] must lie between 0 and 1"
            )))
        }
    };
    rate("warning_rate", h.warning_rate)?;
    rate("failure_rate", h.failure_rate)?;
    if h.warning_rate + h.failure_rate > 1.0 {
        return Err(WorldError::Invalid(
            "jobs_history: warning_rate and failure_rate add up to more than 1".into(),
        ));
    }
    if h.days == 0 || h.days > 3660 {
        return Err(WorldError::Invalid(format!(
            "jobs_history: days [{}] must lie between 1 and 3660",
            h.days
        )));
    }
    Ok(())
}

/// Checks that no two objects of a kind share a name.
fn unique<'a>(kind: &str, names: impl Iterator<Item = &'a str>) -> Result<(), WorldError> {
    let mut seen = std::collections::HashSet::new();
    for n in names {
        if !seen.insert(n.to_lowercase()) {
            return Err(WorldError::Invalid(format!(
                "{kind} [{n}] is defined twice"
            )));
        }
    }
    Ok(())
}

fn build(world: &World, now: Timestamp) -> Result<Built, WorldError> {
    unique(
        "backup server",
        world.backup_servers.iter().map(|s| s.name.as_str()),
    )?;
    unique("tenant", world.tenants.iter().map(|t| t.name.as_str()))?;
    unique("replica", world.replicas.iter().map(|r| r.name.as_str()))?;
    unique("plan", world.plans.iter().map(|p| p.name.as_str()))?;

    let servers: Vec<BackupServer> = world.backup_servers.iter().map(build_server).collect();
    let server_ids: HashMap<String, BackupServerId> = servers
        .iter()
        .map(|s| (s.name.to_lowercase(), s.id))
        .collect();

    let mut tenants = Vec::new();
    for def in &world.tenants {
        tenants.push(build_tenant(def, &server_ids)?);
    }
    let tenant_by_name: HashMap<String, &Tenant> = tenants
        .iter()
        .map(|(t, _, _)| (t.name.to_lowercase(), t))
        .collect();

    let mut replicas = Vec::new();
    let mut points = Vec::new();
    for def in &world.replicas {
        let tenant = lookup(
            &tenant_by_name,
            "tenant",
            &def.tenant,
            &format!("replica [{}]", def.name),
        )?;
        let replica = Replica {
            id: ReplicaId(def.id.unwrap_or_else(|| derived_id("replica", &def.name))),
            backup_server_id: tenant.backup_server_id,
            tenant_id: tenant.id,
            name: def.name.clone(),
            platform: parse_enum("replica platform", &def.platform)?,
        };
        for vm in &def.vms {
            points.extend(build_points(&replica, vm, now)?);
        }
        replicas.push(replica);
    }

    let mut plans = Vec::new();
    for def in &world.plans {
        plans.push(build_plan(def, &tenant_by_name, world, &replicas)?);
    }
    let jobs = jobs::build_jobs(&world.jobs, &servers, now)?;
    Ok(Built {
        servers,
        tenants,
        replicas,
        points,
        plans,
        jobs,
    })
}

fn lookup<'a, T>(
    map: &'a HashMap<String, T>,
    kind: &str,
    name: &str,
    from: &str,
) -> Result<&'a T, WorldError> {
    map.get(&name.to_lowercase())
        .ok_or_else(|| WorldError::Invalid(format!("{from} names unknown {kind} [{name}]")))
}

fn build_server(def: &format::ServerDef) -> BackupServer {
    BackupServer {
        id: BackupServerId(def.id.unwrap_or_else(|| derived_id("server", &def.name))),
        name: def.name.clone(),
        description: def.description.clone(),
        port: def.port,
        version: def.version.clone(),
        wcf_port: def.wcf_port,
        certificate_thumbprint: def.thumbprint.clone(),
        username: def.username.clone(),
    }
}

fn build_tenant(
    def: &format::TenantDef,
    servers: &HashMap<String, BackupServerId>,
) -> Result<TenantParts, WorldError> {
    let from = format!("tenant [{}]", def.name);
    let backup_server_id = *lookup(servers, "backup server", &def.backup_server, &from)?;
    let id = TenantId(def.id.unwrap_or_else(|| derived_id("tenant", &def.name)));
    let kind = match def.kind {
        format::TenantKindDef::Standalone => {
            if def.password.is_none() {
                return Err(WorldError::Invalid(format!(
                    "{from} is standalone and needs a password"
                )));
            }
            TenantKind::Standalone {
                username: def.name.clone(),
            }
        }
        format::TenantKindDef::Vcloud => TenantKind::VCloud {
            organization_name: def.name.clone(),
            organization_ref: def.organization_ref.clone().unwrap_or_else(|| {
                format!(
                    "urn:vCloud:Organization:{}.urn:vcloud:org:{}",
                    backup_server_id,
                    derived_id("org", &def.name)
                )
            }),
            vdcs: def
                .vdcs
                .iter()
                .map(|v| {
                    let vid = derived_id("vdc", &format!("{}/{}", def.name, v.name));
                    VCloudComputeResource {
                        id: vid,
                        vdc_name: v.name.clone(),
                        vdc_ref: format!(
                            "urn:vCloud:OrgVdc:{backup_server_id}.urn:vcloud:vdc:{vid}"
                        ),
                        enabled: true,
                        allocation_model: v.allocation_model.clone(),
                        use_network_failover_resources: false,
                        cpu_usage_mhz: v.cpu_usage_mhz,
                        memory_usage_mb: v.memory_usage_mb,
                        storage_usage_gb: v.storage_usage_gb,
                    }
                })
                .collect(),
        },
    };
    let tenant = Tenant {
        id,
        backup_server_id,
        name: def.name.clone(),
        description: def.description.clone(),
        enabled: def.enabled,
        lease_expiration: def
            .lease_expiration
            .as_deref()
            .map(|v| parse_time("lease_expiration", v))
            .transpose()?,
        resources: def
            .repositories
            .iter()
            .map(|r| RepositoryQuota {
                id: derived_id("resource", &format!("{}/{}", def.name, r.display_name)),
                display_name: r.display_name.clone(),
                repository_id: derived_id("repository", &r.display_name),
                quota_mb: r.quota_mb,
                used_quota_mb: r.used_quota_mb,
            })
            .collect(),
        last_result: parse_enum("last_result", &def.last_result)?,
        last_active: def
            .last_active
            .as_deref()
            .map(|v| parse_time("last_active", v))
            .transpose()?,
        compute_resources: def
            .compute_resources
            .iter()
            .enumerate()
            .map(|(i, c)| {
                Ok(ComputeResource {
                    id: derived_id("compute", &format!("{}/{i}", def.name)),
                    hardware_plan_id: derived_id("hardware plan", &format!("{}/{i}", def.name)),
                    platform: parse_enum("compute platform", &c.platform)?,
                    use_network_failover_resources: c.network_appliance.is_some(),
                    appliance_name: c.network_appliance.clone().unwrap_or_default(),
                    production_network: c.production_network.clone(),
                    obtain_ip_automatically: true,
                    memory_usage_mb: c.memory_usage_mb,
                    cpu_count: c.cpu_count,
                    storages: vec![StorageStat {
                        name: c.storage_name.clone(),
                        usage_gb: c.storage_usage_gb,
                        limit_gb: c.storage_limit_gb,
                    }],
                })
            })
            .collect::<Result<_, WorldError>>()?,
        throttling: Throttling {
            enabled: def.throttling_enabled,
            speed_limit: def.throttling_speed_limit,
            unit: def.throttling_speed_unit.clone(),
        },
        counters: TenantCounters {
            public_ip_count: def.public_ip_count,
            backup_count: def.backup_count,
            replica_count: 0,
            max_concurrent_tasks: def.max_concurrent_tasks,
            workstation_backup_count: def.workstation_backup_count,
            server_backup_count: def.server_backup_count,
            backup_protection_enabled: def.backup_protection_enabled,
            backup_protection_period: def.backup_protection_period,
        },
        kind,
    };
    let users = def
        .vcloud_users
        .iter()
        .map(|u| (u.login.clone(), u.password.clone()))
        .collect();
    Ok((tenant, def.password.clone(), users))
}

fn build_points(
    replica: &Replica,
    vm: &format::ReplicaVmDef,
    now: Timestamp,
) -> Result<Vec<VmReplicaPoint>, WorldError> {
    let point_type = parse_enum("point_type", &vm.point_type)?;
    let mut times = vm
        .points
        .iter()
        .map(|t| parse_time(&format!("points of VM [{}]", vm.name), t))
        .collect::<Result<Vec<_>, _>>()?;
    let newest = now.plus_millis(-(i64::from(vm.point_offset_minutes) * 60_000));
    for i in 0..vm.recent_points {
        times.push(
            newest.plus_millis(-(i64::from(i) * i64::from(vm.point_interval_hours) * 3_600_000)),
        );
    }
    times.sort();
    Ok(times
        .into_iter()
        .map(|t| VmReplicaPoint {
            id: PointId(derived_id(
                "point",
                &format!("{}/{}/{}", replica.name, vm.name, t.micros()),
            )),
            replica_id: replica.id,
            vm_name: vm.name.clone(),
            vm_display_name: vm.display_name.clone().unwrap_or_else(|| vm.name.clone()),
            creation_time: t,
            point_type,
            state: PointState::Ready,
        })
        .collect())
}

fn build_plan(
    def: &format::PlanDef,
    tenants: &HashMap<String, &Tenant>,
    world: &World,
    replicas: &[Replica],
) -> Result<Plan, WorldError> {
    let from = format!("plan [{}]", def.name);
    let tenant = lookup(tenants, "tenant", &def.tenant, &from)?;
    if def.vms.is_empty() {
        return Err(WorldError::Invalid(format!("{from} has no VMs")));
    }
    let mut vms = Vec::new();
    for (order, vm) in def.vms.iter().enumerate() {
        let replica = find_replica(world, replicas, tenant.id, vm, &from)?;
        let outcome = parse_enum("outcome", &vm.outcome)?;
        if !(vm.duration_seconds.is_finite() && vm.duration_seconds >= 0.0) {
            return Err(WorldError::Invalid(format!(
                "{from}: VM [{}] has an invalid duration",
                vm.name
            )));
        }
        vms.push(PlanVm {
            id: PlanVmId(derived_id("plan vm", &format!("{}/{}", def.name, vm.name))),
            name: vm.name.clone(),
            order: order as i32,
            replica_id: replica,
            behaviour: VmBehaviour {
                duration_ms: (vm.duration_seconds * 1000.0) as u64,
                outcome,
                message: vm.message.clone(),
            },
        });
    }
    Ok(Plan {
        id: PlanId(def.id.unwrap_or_else(|| derived_id("plan", &def.name))),
        backup_server_id: tenant.backup_server_id,
        tenant_id: tenant.id,
        name: def.name.clone(),
        description: def.description.clone(),
        options: PlanOptions {
            post_command_enabled: def.post_command_enabled,
            post_command: def.post_command.clone(),
            pre_command_enabled: def.pre_command_enabled,
            pre_command: def.pre_command.clone(),
        },
        state: PlanState::Ready,
        vms,
    })
}

/// The replica of the tenant that holds the plan VM (named, or found by VM name).
fn find_replica(
    world: &World,
    replicas: &[Replica],
    tenant: TenantId,
    vm: &format::PlanVmDef,
    from: &str,
) -> Result<ReplicaId, WorldError> {
    let holds_vm = |def: &format::ReplicaDef| {
        def.vms
            .iter()
            .any(|v| v.name.eq_ignore_ascii_case(&vm.name))
    };
    let candidates: Vec<&format::ReplicaDef> = world
        .replicas
        .iter()
        .filter(|r| {
            vm.replica
                .as_ref()
                .is_none_or(|n| n.eq_ignore_ascii_case(&r.name))
        })
        .filter(|r| holds_vm(r))
        .collect();
    let def = candidates
        .first()
        .ok_or_else(|| WorldError::Invalid(format!("{from}: no replica holds VM [{}]", vm.name)))?;
    let replica = replicas
        .iter()
        .find(|r| r.name == def.name)
        .expect("replicas are built from the same list");
    if replica.tenant_id != tenant {
        return Err(WorldError::Invalid(format!(
            "{from}: replica [{}] belongs to another tenant",
            replica.name
        )));
    }
    Ok(replica.id)
}

/// Logons of the demo world's tenants, for `entman demo-credentials`:
/// (description, how to log on).
pub fn credentials(world: &World) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in &world.tenants {
        match t.kind {
            format::TenantKindDef::Standalone => out.push((
                format!("standalone tenant [{}]", t.name),
                format!(
                    "TenantCredentials: Username={} Password={}",
                    t.name,
                    t.password.clone().unwrap_or_default()
                ),
            )),
            format::TenantKindDef::Vcloud => {
                for u in &t.vcloud_users {
                    out.push((
                        format!("vCloud organization [{}]", t.name),
                        format!(
                            "VCloudOrganizationCredentials: OrganizationName={} Login={} Password={}",
                            t.name, u.login, u.password
                        ),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_world_builds_with_the_documented_shape() {
        let world = demo_world();
        let now = Timestamp::parse("2026-11-28T12:00:00Z").unwrap();
        let built = build(&world, now).unwrap();
        assert!(built.servers.len() >= 2);
        assert!(built.servers.iter().any(|s| s.name == "172.17.53.48"));
        assert!(built.tenants.len() >= 3);
        assert_eq!(built.plans.len(), 4);
        assert!(built.plans.iter().all(|p| (2..=6).contains(&p.vms.len())));
        assert!(built
            .plans
            .iter()
            .any(|p| p.name == "ABC Company Failover Plan"));
        let sessions = history::generate(
            world.history.as_ref().unwrap(),
            &built.plans,
            &built.points,
            now,
        );
        assert!((45..=55).contains(&sessions.len()));
        // Jobs on both backup servers, of every type, some VMs warning or failing.
        use entman_model::job::{JobOutcome, JobType};
        assert_eq!(built.jobs.len(), 6);
        for t in JobType::ALL {
            assert!(built.jobs.iter().any(|j| j.job_type == *t), "{t}");
        }
        for s in &built.servers {
            assert!(
                built.jobs.iter().any(|j| j.backup_server_id == s.id),
                "{}",
                s.name
            );
        }
        let outcomes: Vec<JobOutcome> = built
            .jobs
            .iter()
            .flat_map(|j| j.vms.iter().flat_map(|v| v.outcomes.clone()))
            .collect();
        assert!(outcomes.contains(&JobOutcome::Warning));
        assert!(outcomes.contains(&JobOutcome::Failed));
    }

    #[test]
    fn ids_are_stable_for_the_same_world() {
        let now = Timestamp::now();
        let a = build(&demo_world(), now).unwrap();
        let b = build(&demo_world(), now).unwrap();
        assert_eq!(a.plans[0].id, b.plans[0].id);
        assert_eq!(a.servers[0].id, b.servers[0].id);
    }

    #[test]
    fn broken_references_are_reported_by_name() {
        let text = r#"
            [[backup_servers]]
            name = "bs"
            [[tenants]]
            name = "t"
            backup_server = "nope"
            password = "x"
        "#;
        let err = build(&parse(text).unwrap(), Timestamp::now())
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("unknown backup server [nope]"),
            "{err}"
        );
        assert!(parse("[[plans]]\nname = 1").is_err());
        assert!(parse("unknown_key = 1").is_err());
    }
}
