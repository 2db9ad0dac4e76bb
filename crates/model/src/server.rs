//! Backup servers: the Veeam Backup & Replication servers connected to EM.

use crate::ids::BackupServerId;

/// Default port of the Veeam Backup Service.
pub const DEFAULT_BACKUP_PORT: u16 = 9392;

/// A backup server as EM knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupServer {
    /// Identifier.
    pub id: BackupServerId,
    /// DNS name or IP address the server was added with; the entity `Name`.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Backup service port.
    pub port: u16,
    /// VBR build, e.g. `13.0.0.1420`.
    pub version: String,
    /// WCF port, when known.
    pub wcf_port: Option<u16>,
    /// Certificate thumbprint of the VBR server, when known.
    pub certificate_thumbprint: Option<String>,
    /// Account EM uses to connect to the server.
    pub username: String,
}
