//! Integration tests of the HTTP API: each starts a real server on a random port
//! and speaks HTTP to it. One binary for all (faster to build and link).

mod authorization;
mod backends;
mod captures;
mod control;
mod entry;
mod errors;
mod failover;
mod isolation;
mod job_sessions;
mod jobs;
mod links;
mod query;
mod read_cache;
mod representations;
mod wire;
