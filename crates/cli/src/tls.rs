//! TLS: a user-provided certificate and key, or a self-signed certificate generated
//! on first start and kept in the data directory (key readable by its owner only).

use anyhow::Context;
use entman_http::server::rustls::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Loads the configured certificate, or generates and keeps one.
pub(crate) fn rustls_config(
    data_dir: &Path,
    files: Option<&(PathBuf, PathBuf)>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let (cert, key) = match files {
        Some((cert, key)) => (cert.clone(), key.clone()),
        None => ensure_self_signed(data_dir)?,
    };
    let read = |path: &Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    entman_http::server::tls_config(&read(&cert)?, &read(&key)?).map_err(|e| {
        anyhow::anyhow!(
            "cannot load the TLS certificate {} and key {}: {e}",
            cert.display(),
            key.display()
        )
    })
}

/// The generated certificate's files, created when missing. SANs: localhost,
/// 127.0.0.1, ::1 and the host name.
pub(crate) fn ensure_self_signed(data_dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cert_path = data_dir.join("tls-cert.pem");
    let key_path = data_dir.join("tls-key.pem");
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(host) = hostname::get() {
        let host = host.to_string_lossy().to_string();
        if !host.is_empty() && !names.contains(&host) {
            names.push(host);
        }
    }
    let certified =
        rcgen::generate_simple_self_signed(names).context("cannot generate a TLS certificate")?;
    write_private(&key_path, certified.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&cert_path, certified.cert.pem())
        .with_context(|| format!("cannot write {}", cert_path.display()))?;
    tracing::info!(cert = %cert_path.display(), "generated a self-signed TLS certificate");
    Ok((cert_path, key_path))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_generated_key_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = super::ensure_self_signed(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let before = std::fs::read(&cert).unwrap();
        super::ensure_self_signed(dir.path()).unwrap();
        assert_eq!(std::fs::read(&cert).unwrap(), before);
    }
}
