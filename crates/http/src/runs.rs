//! The job runs as last read from the store, kept while the store's job-runs
//! version stays the same ([`entman_store::AdminStore::job_runs_version`]), so
//! that session lists and the four session query types read memory instead of
//! decoding every run and task row per request. Failover steps do not move that
//! version; every other write does (job runs are written rarely: when a run is
//! created, stopped or stepped). States are still derived per request from each
//! run's course and the clock.

use entman_model::job_session::JobSession;
use entman_store::{JobSessionFilter, Store, StoreResult};
use std::sync::{Arc, RwLock};

/// The kept runs, by creation time then id, with the version they were read at.
#[derive(Default)]
pub struct RunCache {
    kept: RwLock<Option<(u64, Arc<Vec<JobSession>>)>>,
}

impl RunCache {
    /// Every stored run, from memory while nothing wrote job runs since.
    pub async fn all(&self, store: &dyn Store) -> StoreResult<Arc<Vec<JobSession>>> {
        // Noted before reading: a write during the read moves it, and the next
        // call reads again.
        let version = store.job_runs_version();
        if let (Some(v), Some((kept_at, runs))) = (version, self.read().as_ref()) {
            if *kept_at == v {
                return Ok(runs.clone());
            }
        }
        let runs = Arc::new(store.list_job_sessions(JobSessionFilter::default()).await?);
        if let Some(v) = version {
            *self
                .kept
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((v, runs.clone()));
        }
        Ok(runs)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<(u64, Arc<Vec<JobSession>>)>> {
        self.kept
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
