//! Password hashing (argon2id, PHC strings) for accounts, tenants and backup servers.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

/// Hashes a password with argon2id and a random salt.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .expect("argon2 with default parameters hashes any input")
}

/// Checks a password against a stored hash. A malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of a verification when there is no account, so that response
/// times do not reveal which account names exist.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("entman-dummy-password"));
    let _ = verify(password, stored);
}

/// [`hash`] on the blocking pool: argon2id takes tens of milliseconds of CPU and
/// 19 MiB, which must not stall the runtime threads serving other requests.
pub async fn hash_blocking(password: String) -> String {
    run_blocking(move || hash(&password)).await
}

/// [`verify`] on the blocking pool (see [`hash_blocking`]).
pub async fn verify_blocking(password: String, stored: String) -> bool {
    run_blocking(move || verify(&password, &stored)).await
}

/// [`verify_dummy`] on the blocking pool (see [`hash_blocking`]).
pub async fn verify_dummy_blocking(password: String) {
    run_blocking(move || verify_dummy(&password)).await;
}

/// At most one hash per core at a time: more would not go faster, and each holds
/// 19 MiB (eight at once took the server to 171 MB).
fn permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        tokio::sync::Semaphore::new(cores)
    })
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads, when [`start_hashers`] made them.
static HASHERS: OnceLock<std::sync::Mutex<std::sync::mpsc::Sender<Job>>> = OnceLock::new();

/// Starts `threads` threads that only hash and verify passwords, instead of
/// the runtime's blocking pool. Threads take the scheduling priority of the
/// thread that starts them: started before the runtime, whose threads the
/// binary runs at a lower priority, a logon's hash then goes before the work
/// of heavy queries (`entman serve` does this). Later calls do nothing.
pub fn start_hashers(threads: usize) -> std::io::Result<()> {
    if HASHERS.get().is_some() {
        return Ok(());
    }
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    for i in 0..threads.max(1) {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("entman-hash-{i}"))
            .spawn(move || loop {
                let job = match rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            })?;
    }
    let _ = HASHERS.set(std::sync::Mutex::new(tx));
    Ok(())
}

async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let _permit = permits().acquire().await;
    if let Some(hashers) = HASHERS.get() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = tx.send(outcome);
        });
        let sent = hashers.lock().is_ok_and(|h| h.send(job).is_ok());
        if sent {
            match rx.await {
                Ok(Ok(value)) => return value,
                // A panic in argon2 is a bug; surface it like one on the caller's task.
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                Err(ended) => panic!("a hashing thread ended: {ended}"),
            }
        }
        panic!("the hashing threads are gone");
    }
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        // A panic in argon2 is a bug; surface it like one on the caller's task.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify_only_their_password() {
        let h = super::hash("P@ssw0rd");
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("P@ssw0rd", &h));
        assert!(!super::verify("p@ssw0rd", &h));
        assert!(!super::verify("P@ssw0rd", "not a hash"));
    }

    #[tokio::test]
    async fn the_hashing_threads_answer_like_the_blocking_pool() {
        super::start_hashers(1).unwrap();
        super::start_hashers(3).unwrap(); // started once
        let h = super::hash_blocking("P@ssw0rd".into()).await;
        let checks = (0..4).map(|i| {
            let h = h.clone();
            tokio::spawn(async move {
                super::verify_blocking(if i % 2 == 0 { "P@ssw0rd" } else { "x" }.into(), h).await
            })
        });
        let mut answers = Vec::new();
        for c in checks {
            answers.push(c.await.unwrap());
        }
        assert_eq!(answers, vec![true, false, true, false]);
    }

    #[tokio::test]
    async fn the_blocking_variants_agree() {
        let h = super::hash_blocking("P@ssw0rd".into()).await;
        assert!(super::verify_blocking("P@ssw0rd".into(), h.clone()).await);
        assert!(!super::verify_blocking("nope".into(), h).await);
        super::verify_dummy_blocking("x".into()).await;
    }
}
