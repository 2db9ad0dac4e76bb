//! Request specs read from [`Input`] trees (XML or JSON alike).

use crate::input::{BodyError, Input};
use entman_model::plan::PlanOptions;
use entman_model::Timestamp;

/// Credentials carried by a `LoginSpec` (auth.md §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginSpec {
    /// `TenantCredentials`: a standalone tenant.
    Tenant {
        /// The tenant's user name.
        username: String,
        /// The tenant's password.
        password: String,
    },
    /// `VCloudOrganizationCredentials`: a vCloud Director organization user.
    VCloud {
        /// Organization name.
        organization: String,
        /// User name within the organization.
        login: String,
        /// The user's password.
        password: String,
    },
}

impl LoginSpec {
    /// Reads a `LoginSpec` body. `VMwareSSOToken` is not supported.
    pub fn read(input: &Input) -> Result<LoginSpec, BodyError> {
        input.expect_root("LoginSpec")?;
        if input.child("VMwareSSOToken").is_some() {
            return Err(BodyError::Other(
                "Logon with a VMware SSO token is not supported.".into(),
            ));
        }
        if let Some(c) = input.child("TenantCredentials") {
            return Ok(LoginSpec::Tenant {
                username: c.required("Username")?.to_string(),
                password: c.required("Password")?.to_string(),
            });
        }
        if let Some(c) = input.child("VCloudOrganizationCredentials") {
            return Ok(LoginSpec::VCloud {
                organization: c.required("OrganizationName")?.to_string(),
                login: c.required("Login")?.to_string(),
                password: c.required("Password")?.to_string(),
            });
        }
        Err(BodyError::Missing("TenantCredentials"))
    }
}

pub use entman_model::plan::FailoverTarget as StartPoint;

/// Reads a `CloudFailoverPlanManagementSpec`; `None` (no body) means `StartNow`.
pub fn read_start_spec(input: Option<&Input>) -> Result<StartPoint, BodyError> {
    let Some(input) = input else {
        return Ok(StartPoint::Latest);
    };
    input.expect_root("CloudFailoverPlanManagementSpec")?;
    if input.bool_of("StartNow")? == Some(true) {
        return Ok(StartPoint::Latest);
    }
    let date = input
        .text_of("StartDate")
        .ok_or(BodyError::Missing("StartDate"))?;
    Timestamp::parse(date)
        .map(StartPoint::Before)
        .ok_or_else(|| BodyError::Invalid {
            element: "StartDate",
            value: date.chars().take(64).collect(),
            expected: "an ISO 8601 date and time",
        })
}

/// A `BackupServerSpec` (backup-servers.md §4). Fields are optional here; the
/// create handler checks which ones it requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupServerSpec {
    /// `Description`.
    pub description: Option<String>,
    /// `DnsNameOrIpAddress`.
    pub dns_name_or_ip: Option<String>,
    /// `Port`.
    pub port: Option<u16>,
    /// `Username`.
    pub username: Option<String>,
    /// `Password`.
    pub password: Option<String>,
    /// `WcfPort`.
    pub wcf_port: Option<u16>,
    /// `VbrCertificateThumbprint`.
    pub thumbprint: Option<String>,
}

impl BackupServerSpec {
    /// Reads the spec.
    pub fn read(input: &Input) -> Result<BackupServerSpec, BodyError> {
        input.expect_root("BackupServerSpec")?;
        let text = |name| input.text_of(name).map(str::to_string);
        Ok(BackupServerSpec {
            description: text("Description"),
            dns_name_or_ip: text("DnsNameOrIpAddress"),
            port: input.port_of("Port")?,
            username: text("Username"),
            password: text("Password"),
            wcf_port: input.port_of("WcfPort")?,
            thumbprint: text("VbrCertificateThumbprint"),
        })
    }
}

/// The script options a plan PUT may change (failover-plans.md §5). `None` = keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptionsUpdate {
    /// `PostFailoverCommandEnabled`.
    pub post_command_enabled: Option<bool>,
    /// `PostFailoverCommand`.
    pub post_command: Option<String>,
    /// `PreFailoverCommandEnabled`.
    pub pre_command_enabled: Option<bool>,
    /// `PreFailoverCommand`.
    pub pre_command: Option<String>,
}

impl PlanOptionsUpdate {
    /// Reads the options of a `CloudFailoverPlan` body; everything else is ignored.
    pub fn read(input: &Input) -> Result<PlanOptionsUpdate, BodyError> {
        input.expect_root("CloudFailoverPlan")?;
        let Some(o) = input.child("CloudFailoverPlanOptions") else {
            return Ok(PlanOptionsUpdate::default());
        };
        Ok(PlanOptionsUpdate {
            post_command_enabled: o.bool_of("PostFailoverPlanCommandEnabled")?,
            post_command: o.text_of("PostFailoverPlanCommand").map(str::to_string),
            pre_command_enabled: o.bool_of("PreFailoverPlanCommandEnabled")?,
            pre_command: o.text_of("PreFailoverPlanCommand").map(str::to_string),
        })
    }

    /// Applies the update; an enabled script with an empty command is refused.
    pub fn apply(&self, options: &PlanOptions) -> Result<PlanOptions, BodyError> {
        let mut next = options.clone();
        if let Some(v) = self.post_command_enabled {
            next.post_command_enabled = v;
        }
        if let Some(v) = &self.post_command {
            next.post_command.clone_from(v);
        }
        if let Some(v) = self.pre_command_enabled {
            next.pre_command_enabled = v;
        }
        if let Some(v) = &self.pre_command {
            next.pre_command.clone_from(v);
        }
        if next.post_command_enabled && next.post_command.trim().is_empty() {
            return Err(BodyError::Missing("PostFailoverPlanCommand"));
        }
        if next.pre_command_enabled && next.pre_command.trim().is_empty() {
            return Err(BodyError::Missing("PreFailoverPlanCommand"));
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::BodyFormat;

    fn xml(s: &str) -> Input {
        Input::parse(s.as_bytes(), BodyFormat::Xml).unwrap()
    }

    #[test]
    fn start_spec_start_now_wins_over_start_date() {
        let i = xml("<CloudFailoverPlanManagementSpec><StartNow>true</StartNow><StartDate>2015-12-29T15:13:37Z</StartDate></CloudFailoverPlanManagementSpec>");
        assert_eq!(read_start_spec(Some(&i)), Ok(StartPoint::Latest));
        assert_eq!(read_start_spec(None), Ok(StartPoint::Latest));
    }

    #[test]
    fn start_spec_needs_a_date_unless_start_now() {
        let i = xml("<CloudFailoverPlanManagementSpec><StartNow>false</StartNow><StartDate>2015-12-29T15:13:37.7418767Z</StartDate></CloudFailoverPlanManagementSpec>");
        assert!(matches!(
            read_start_spec(Some(&i)),
            Ok(StartPoint::Before(_))
        ));
        let empty = xml("<CloudFailoverPlanManagementSpec />");
        assert_eq!(
            read_start_spec(Some(&empty)),
            Err(BodyError::Missing("StartDate"))
        );
        let wrong = xml("<Other />");
        assert!(matches!(
            read_start_spec(Some(&wrong)),
            Err(BodyError::WrongRoot { .. })
        ));
    }

    #[test]
    fn login_spec_reads_both_credential_kinds() {
        let t = xml("<LoginSpec><TenantCredentials><Username>ABC Company</Username><Password>Qwe123</Password></TenantCredentials></LoginSpec>");
        assert_eq!(
            LoginSpec::read(&t),
            Ok(LoginSpec::Tenant {
                username: "ABC Company".into(),
                password: "Qwe123".into()
            })
        );
        let v = Input::parse(
            br#"{"VCloudOrganizationCredentials":{"OrganizationName":"vCDOrg1","Login":"user01","Password":"Qwe123"}}"#,
            BodyFormat::Json,
        )
        .unwrap();
        assert!(matches!(LoginSpec::read(&v), Ok(LoginSpec::VCloud { .. })));
        assert!(LoginSpec::read(&xml("<LoginSpec />")).is_err());
    }

    #[test]
    fn plan_options_update_refuses_enabled_empty_scripts() {
        let i = xml("<CloudFailoverPlan><CloudFailoverPlanOptions><PostFailoverPlanCommandEnabled>true</PostFailoverPlanCommandEnabled></CloudFailoverPlanOptions></CloudFailoverPlan>");
        let update = PlanOptionsUpdate::read(&i).unwrap();
        assert!(update.apply(&PlanOptions::default()).is_err());
    }
}
