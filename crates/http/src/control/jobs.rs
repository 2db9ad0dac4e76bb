//! The controls of backup jobs and their runs (controls.md §2, "Jobs (slice 2)"):
//! progression and VM outcomes per job, a step of a running job session, and a
//! scheduled run on demand. The manual clock drives schedules through
//! `POST /_entman/clock/advance` like everything else.

use super::{
    clip, duration_of, json_body, message_of, object, progression_of, step_spec, unavailable,
    Admin, ControlError,
};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use entman_engine::{JobVmOutcome, OperationError, Progression, StepError};
use entman_model::ids::{BackupJobSessionId, JobId, KeyId, ReplicaJobSessionId};
use entman_model::job::{Job, JobOutcome};
use entman_model::job_session::JobSession;
use entman_repr::resources::job_session::JobSessionView;
use entman_repr::resources::{Placement, Represent, Representation};
use entman_repr::{Ctx, Format, Viewer};
use entman_store::StoreError;
use serde_json::Value;

/// A job by its path id (GUID or UID), or 404.
async fn job_of(state: &AppState, raw: &str) -> Result<Job, ControlError> {
    let missing = || {
        ControlError::new(
            StatusCode::NOT_FOUND,
            format!("no job has the id [{}]", clip(raw)),
        )
    };
    let id = JobId::from_path(raw).ok_or_else(missing)?;
    state.store.get_job(id).await.map_err(|e| match e {
        StoreError::NotFound => missing(),
        other => unavailable(other),
    })
}

/// `PUT /_entman/jobs/{ID}/progression`.
pub(super) async fn put_progression(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let mode = progression_of(&body)?;
    let job = job_of(&state, &raw).await?;
    state.engine.set_job_progression(job.id, mode);
    Ok(StatusCode::NO_CONTENT)
}

/// The VM of a job (an include, or for a copy job a VM of a source job) by name.
async fn vm_name_of(state: &AppState, job: &Job, vm: &str) -> Result<String, ControlError> {
    let mut names: Vec<String> = job.vms.iter().map(|v| v.name.clone()).collect();
    for link in &job.source_jobs {
        if let Ok(source) = state.store.get_job(link.job).await {
            names.extend(source.vms.into_iter().map(|v| v.name));
        }
    }
    names
        .into_iter()
        .find(|n| n.eq_ignore_ascii_case(vm))
        .ok_or_else(|| {
            ControlError::new(
                StatusCode::NOT_FOUND,
                format!("job [{}] has no VM [{}]", job.name, clip(vm)),
            )
        })
}

/// `PUT /_entman/jobs/{ID}/vms/{VmName}/outcome`: `result`, `message`,
/// `durationSeconds` and `totalSizeBytes` for the VM's next runs.
pub(super) async fn put_outcome(
    State(state): State<AppState>,
    _: Admin,
    Path((raw, vm)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let body = json_body(&body)?;
    let m = object(
        &body,
        &["result", "message", "durationSeconds", "totalSizeBytes"],
    )?;
    let job = job_of(&state, &raw).await?;
    let name = vm_name_of(&state, &job, &vm).await?;
    let outcome = m
        .get("result")
        .and_then(Value::as_str)
        .and_then(|text| text.parse::<JobOutcome>().ok())
        .ok_or_else(|| {
            ControlError::bad("[result] must be \"Success\", \"Warning\" or \"Failed\"")
        })?;
    let size_bytes = match m.get("totalSizeBytes") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|b| i64::try_from(*b).is_ok())
                .ok_or_else(|| {
                    ControlError::bad("[totalSizeBytes] must be a whole number of bytes, 0 or more")
                })?,
        ),
    };
    state.engine.set_job_outcome(
        job.id,
        &name,
        JobVmOutcome {
            outcome,
            reason: message_of(m)?,
            duration_ms: duration_of(m)?,
            size_bytes,
        },
    );
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /_entman/jobs/{ID}/vms/{VmName}/outcome`.
pub(super) async fn delete_outcome(
    State(state): State<AppState>,
    _: Admin,
    Path((raw, vm)): Path<(String, String)>,
) -> Result<StatusCode, ControlError> {
    let job = job_of(&state, &raw).await?;
    if state.engine.remove_job_outcome(job.id, &vm) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ControlError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no outcome is set for VM [{}] of job [{}]",
                clip(&vm),
                job.name
            ),
        ))
    }
}

/// The EM JSON of a job session entity, with links as the API writes them for
/// this request.
async fn session_json(
    state: &AppState,
    parts: &Parts,
    session: &JobSession,
) -> Result<Response, ControlError> {
    let server = state
        .store
        .get_server(session.backup_server_id)
        .await
        .map_err(unavailable)?;
    let ctx = Ctx {
        base: crate::base_url(parts, state),
        viewer: Viewer::Administrator,
    };
    let node = JobSessionView {
        session,
        server: &server,
        now: state.now(),
        generation: state.engine.generation(),
    }
    .represent(&ctx, Representation::Entity, Placement::Root);
    let text = entman_repr::render(&node, Format::Json(state.config.json_style));
    Ok((
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        text,
    )
        .into_response())
}

/// `POST /_entman/jobs/{ID}/run`: a scheduled run now; `409` when the job is
/// running or disabled. Answers the new session's EM JSON.
pub(super) async fn run_now(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
    parts: Parts,
) -> Result<Response, ControlError> {
    let job = job_of(&state, &raw).await?;
    let session = match state.engine.run_job_now(&job).await {
        Ok(session) => session,
        Err(OperationError::Refused(message)) => {
            return Err(ControlError::new(StatusCode::CONFLICT, message))
        }
        Err(OperationError::Store(e)) => return Err(unavailable(e)),
    };
    session_json(&state, &parts, &session).await
}

/// `POST /_entman/jobSessions/{ID}/step`: ends the next VMs of a running backup
/// or replica job session; `409` when it is not running.
pub(super) async fn step(
    State(state): State<AppState>,
    _: Admin,
    Path(raw): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Result<Response, ControlError> {
    let spec = step_spec(&body)?;
    let missing = || {
        ControlError::new(
            StatusCode::NOT_FOUND,
            format!("no job session has the id [{}]", clip(&raw)),
        )
    };
    let id = BackupJobSessionId::from_path(&raw)
        .map(|i| i.0)
        .or_else(|| ReplicaJobSessionId::from_path(&raw).map(|i| i.0))
        .ok_or_else(missing)?;
    let session = match state.engine.step_job_session(id, spec).await {
        Ok(session) => session,
        Err(StepError::NotRunning) => {
            return Err(ControlError::new(
                StatusCode::CONFLICT,
                "the job session is not running",
            ))
        }
        Err(StepError::Store(StoreError::NotFound)) => return Err(missing()),
        Err(StepError::Store(e)) => return Err(unavailable(e)),
    };
    session_json(&state, &parts, &session).await
}

/// The job controls of a snapshot document (`jobProgressions`, `jobOutcomes`;
/// absent in snapshots taken before jobs had controls).
pub(super) fn read_job_controls(
    m: &serde_json::Map<String, Value>,
    controls: &mut entman_engine::Controls,
) -> Result<(), ControlError> {
    let list = |key: &str| -> Result<&[Value], ControlError> {
        match m.get(key) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            _ => Err(ControlError::bad(format!("[{key}] must be a list"))),
        }
    };
    let job_id = |v: Option<&Value>| -> Result<JobId, ControlError> {
        v.and_then(Value::as_str)
            .and_then(JobId::from_path)
            .ok_or_else(|| ControlError::bad("[job] must be a job's GUID"))
    };
    for p in list("jobProgressions")? {
        let p = object(p, &["job", "mode"])?;
        let mode = p
            .get("mode")
            .and_then(Value::as_str)
            .and_then(Progression::parse)
            .ok_or_else(|| ControlError::bad("[mode] must be timed, immediate or manual"))?;
        controls
            .job_progressions
            .push((job_id(p.get("job"))?, mode));
    }
    for o in list("jobOutcomes")? {
        let o = object(
            o,
            &[
                "job",
                "vm",
                "result",
                "message",
                "durationSeconds",
                "totalSizeBytes",
            ],
        )?;
        let vm = o
            .get("vm")
            .and_then(Value::as_str)
            .ok_or_else(|| ControlError::bad("[vm] must be a VM name"))?;
        let outcome = o
            .get("result")
            .and_then(Value::as_str)
            .and_then(|r| r.parse::<JobOutcome>().ok())
            .ok_or_else(|| ControlError::bad("[result] must be Success, Warning or Failed"))?;
        let size_bytes = match o.get("totalSizeBytes") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|b| i64::try_from(*b).is_ok())
                    .ok_or_else(|| {
                        ControlError::bad("[totalSizeBytes] must be a whole number of bytes")
                    })?,
            ),
        };
        controls.job_outcomes.push((
            job_id(o.get("job"))?,
            vm.to_string(),
            JobVmOutcome {
                outcome,
                reason: message_of(o)?,
                duration_ms: duration_of(o)?,
                size_bytes,
            },
        ));
    }
    Ok(())
}
