//! Backup servers (resources/backup-servers.md).

use super::{entity, link, reference, Ctx, Placement, Represent, Viewer};
use crate::node::{opt_text, opt_value, Node};
use entman_model::server::BackupServer;

fn href(ctx: &Ctx, s: &BackupServer) -> String {
    ctx.url(&format!("/backupServers/{}", s.id))
}

/// Reference representation (§2).
pub fn reference_node(ctx: &Ctx, s: &BackupServer, placement: Placement) -> Node {
    let base = href(ctx, s);
    let links = vec![
        link(
            "Down",
            format!("{base}/jobs"),
            None,
            Some("JobReferenceList"),
        ),
        link(
            "Down",
            format!("{base}/repositories"),
            None,
            Some("RepositoryReferenceList"),
        ),
        link(
            "Down",
            format!("{base}/externalRepositories"),
            None,
            Some("ExternalRepositoryReferenceList"),
        ),
        link(
            "Down",
            format!("{base}/credentials"),
            None,
            Some("CredentialsList"),
        ),
        link(
            "Down",
            format!("{base}/passwords"),
            None,
            Some("PasswordKeyList"),
        ),
        link(
            "Alternate",
            format!("{base}?format=Entity"),
            Some(&s.name),
            Some("BackupServer"),
        ),
        link(
            "Down",
            format!("{base}/managedServers"),
            None,
            Some("ManagedServerReferenceList"),
        ),
    ];
    reference(
        placement,
        s.id.uid(),
        &s.name,
        base,
        "BackupServerReference",
        links,
    )
}

/// Entity representation (§3). Administrator-only links are left out for others.
pub fn entity_node(ctx: &Ctx, s: &BackupServer) -> Node {
    let base = href(ctx, s);
    let admin = ctx.viewer == Viewer::Administrator;
    let mut links = vec![link(
        "Alternate",
        base.clone(),
        Some(&s.name),
        Some("BackupServerReference"),
    )];
    if admin {
        links.push(link(
            "Edit",
            base.clone(),
            None,
            Some("BackupServerReference"),
        ));
        links.push(link(
            "Delete",
            base.clone(),
            None,
            Some("BackupServerReference"),
        ));
    }
    links.push(link(
        "Down",
        format!("{base}/jobs"),
        None,
        Some("JobReferenceList"),
    ));
    links.push(link(
        "Down",
        format!("{base}/managedServers"),
        None,
        Some("ManagedServerReferenceList"),
    ));
    links.push(link(
        "Down",
        format!("{base}/repositories"),
        None,
        Some("RepositoryReferenceList"),
    ));
    links.push(link(
        "Down",
        format!("{base}/externalRepositories"),
        None,
        Some("ExternalRepositoryReferenceList"),
    ));
    links.push(link(
        "Down",
        format!("{base}/credentials"),
        None,
        Some("CredentialsList"),
    ));
    if admin {
        links.push(link(
            "Create",
            format!("{base}/credentials?action=create"),
            None,
            None,
        ));
    }
    links.push(link(
        "Down",
        format!("{base}/passwords"),
        None,
        Some("PasswordKeyList"),
    ));
    if admin {
        links.push(link(
            "Create",
            format!("{base}/passwords?action=create"),
            None,
            None,
        ));
    }
    links.push(link(
        "VeeamZip",
        format!("{base}?action=veeamzip"),
        None,
        None,
    ));
    links.push(link(
        "QuickBackup",
        format!("{base}?action=quickbackup"),
        None,
        None,
    ));
    links.push(link("Start", format!("{base}?action=collect"), None, None));
    entity(
        "BackupServer",
        format!("{base}?format=Entity"),
        "BackupServer",
        &s.name,
        s.id.uid(),
        links,
    )
    .elem(2, "Description", &s.description)
    .elem(2, "Port", s.port)
    .elem(2, "Version", &s.version)
    .elem(2, "WcfPort", opt_value(s.wcf_port))
    .elem(
        2,
        "VbrCertificateThumbprint",
        opt_text(s.certificate_thumbprint.clone()),
    )
}

/// A backup server as a key resource.
pub struct ServerView<'a> {
    /// The backup server.
    pub server: &'a BackupServer,
}

impl Represent for ServerView<'_> {
    fn reference(&self, ctx: &Ctx, placement: Placement) -> Node {
        reference_node(ctx, self.server, placement)
    }

    fn entity(&self, ctx: &Ctx, _placement: Placement) -> Node {
        entity_node(ctx, self.server)
    }
}
