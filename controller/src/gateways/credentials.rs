//! Least privilege in workload clusters. A Cluster API kubeconfig Secret
//! holds a `system:masters` certificate; the controller uses it as little
//! as possible: to install, in each workload cluster, a ServiceAccount with
//! exactly the rights it needs, and to ask for that account's token
//! (TokenRequest, refreshed before it expires: written to a file that
//! kube's client reads again every minute, so clients and watches carry on
//! across renewals). Everything else — reading
//! the gateway Service, writing DNSRecords, probing the namespace — goes
//! through the account's token. `--workload-credentials admin` skips this
//! and works with the admin identity (with a warning).
//!
//! The rights, in the workload cluster:
//! - `xcc-dns` namespace: DNSRecords get/list/watch/create/update/patch/
//!   delete (write and garbage-collect the records);
//! - the namespace itself: get, by name (the probe);
//! - each gateway Service: get/list/watch, by name (a watch with a
//!   `metadata.name` field selector is authorized against `resourceNames`);
//! - Nodes: get/list/watch, only in clusters a `resolutionType: nodePort`
//!   gateway selects (their addresses are what is published).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, Config};

use super::run::FIELD_MANAGER;

/// The account's name, in the records' namespace.
pub const ACCOUNT: &str = "xcc-dns-gateways";
/// How long a requested token lives; it is renewed at two thirds.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// How the controller authenticates to workload clusters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkloadCredentials {
    /// A ServiceAccount with least privilege, installed by the controller.
    #[default]
    ServiceAccount,
    /// The kubeconfig Secret's identity as it is.
    Admin,
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(BTreeMap::from([(
            "app.kubernetes.io/managed-by".to_owned(),
            FIELD_MANAGER.to_owned(),
        )])),
        ..ObjectMeta::default()
    }
}

fn rule(group: &str, resource: &str, verbs: &[&str], names: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(vec![resource.to_owned()]),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        resource_names: (!names.is_empty())
            .then(|| names.iter().map(|n| (*n).to_owned()).collect()),
        ..PolicyRule::default()
    }
}

fn subject(namespace: &str) -> Vec<Subject> {
    vec![Subject {
        kind: "ServiceAccount".to_owned(),
        name: ACCOUNT.to_owned(),
        namespace: Some(namespace.to_owned()),
        ..Subject::default()
    }]
}

/// Applies `object` by server-side apply.
async fn apply<K>(api: &Api<K>, name: &str, object: &K) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .map(|_| ())
}

/// Installs (idempotently) the account and its base rights in the records'
/// namespace `namespace`.
pub async fn install_account(admin: &Client, namespace: &str) -> Result<(), kube::Error> {
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let mut account = ServiceAccount {
        metadata: meta(ACCOUNT, Some(namespace)),
        ..ServiceAccount::default()
    };
    account.automount_service_account_token = Some(false);
    apply(&accounts, ACCOUNT, &account).await?;
    let records = rule(
        "connectivity.tanzu.vmware.com",
        "dnsrecords",
        &[
            "get", "list", "watch", "create", "update", "patch", "delete",
        ],
        &[],
    );
    grant_in(admin, namespace, ACCOUNT, namespace, records).await?;
    // The probe reads the namespace itself: a cluster-scoped rule, by name.
    let probe = rule("", "namespaces", &["get"], &[namespace]);
    grant_cluster_wide(admin, &format!("{ACCOUNT}-{namespace}"), namespace, probe).await
}

/// Grants the account (of the records' namespace `namespace`) read access
/// to one gateway Service, by name.
pub async fn grant_service(
    admin: &Client,
    namespace: &str,
    service_namespace: &str,
    service: &str,
) -> Result<(), kube::Error> {
    let read = rule("", "services", &["get", "list", "watch"], &[service]);
    grant_in(
        admin,
        service_namespace,
        &format!("{ACCOUNT}-{service}"),
        namespace,
        read,
    )
    .await
}

/// Grants the account list/watch of Nodes (cluster-wide: Nodes are not
/// namespaced), for `resolutionType: nodePort` gateways only; a cluster
/// whose gateways are all load balancers never gets this rule. Nodes hold
/// addresses, capacity and images, no secrets.
pub async fn grant_nodes(admin: &Client, namespace: &str) -> Result<(), kube::Error> {
    let read = rule("", "nodes", &["get", "list", "watch"], &[]);
    grant_cluster_wide(
        admin,
        &format!("{ACCOUNT}-nodes-{namespace}"),
        namespace,
        read,
    )
    .await
}

/// Applies Role `name` in `role_namespace` with `rule`, bound to the
/// account of `namespace`.
async fn grant_in(
    admin: &Client,
    role_namespace: &str,
    name: &str,
    namespace: &str,
    rule: PolicyRule,
) -> Result<(), kube::Error> {
    let roles: Api<Role> = Api::namespaced(admin.clone(), role_namespace);
    let role = Role {
        metadata: meta(name, Some(role_namespace)),
        rules: Some(vec![rule]),
    };
    apply(&roles, name, &role).await?;
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), role_namespace);
    let binding = RoleBinding {
        metadata: meta(name, Some(role_namespace)),
        role_ref: role_ref("Role", name),
        subjects: Some(subject(namespace)),
    };
    apply(&bindings, name, &binding).await
}

/// Applies ClusterRole `name` with `rule`, bound to the account of
/// `namespace`.
async fn grant_cluster_wide(
    admin: &Client,
    name: &str,
    namespace: &str,
    rule: PolicyRule,
) -> Result<(), kube::Error> {
    let cluster_roles: Api<ClusterRole> = Api::all(admin.clone());
    let cluster_role = ClusterRole {
        metadata: meta(name, None),
        rules: Some(vec![rule]),
        ..ClusterRole::default()
    };
    apply(&cluster_roles, name, &cluster_role).await?;
    let cluster_bindings: Api<ClusterRoleBinding> = Api::all(admin.clone());
    let cluster_binding = ClusterRoleBinding {
        metadata: meta(name, None),
        role_ref: role_ref("ClusterRole", name),
        subjects: Some(subject(namespace)),
    };
    apply(&cluster_bindings, name, &cluster_binding).await
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: Some("rbac.authorization.k8s.io".to_owned()),
        kind: kind.to_owned(),
        name: name.to_owned(),
    }
}

/// Asks for a token of the account (TokenRequest, [`TOKEN_LIFETIME`]) and
/// writes it to `path` (mode 0600, replaced by rename so a reader never
/// sees half a token). Returns the lifetime the API server granted (it may
/// shorten what was asked).
pub async fn request_token(
    admin: &Client,
    namespace: &str,
    path: &Path,
) -> Result<Duration, String> {
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(TOKEN_LIFETIME.as_secs() as i64),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let asked_at = jiff::Timestamp::now();
    let response = accounts
        .create_token_request(ACCOUNT, &PostParams::default(), &request)
        .await
        .map_err(|e| format!("cannot get a token for ServiceAccount {namespace}/{ACCOUNT}: {e}"))?;
    let status = response.status.unwrap_or_default();
    let token = status
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("the TokenRequest for {namespace}/{ACCOUNT} returned no token"))?;
    write_token(path, &token)
        .map_err(|e| format!("cannot write the token to {}: {e}", path.display()))?;
    Ok(status
        .expiration_timestamp
        .map_or(TOKEN_LIFETIME, |expires| {
            granted_lifetime(asked_at, expires.0)
        }))
}

/// How long a token issued at `asked_at` and expiring at `expires` lives
/// (at least a second; a clock skew never makes it negative).
pub fn granted_lifetime(asked_at: jiff::Timestamp, expires: jiff::Timestamp) -> Duration {
    let seconds = expires.as_second().saturating_sub(asked_at.as_second());
    Duration::from_secs(seconds.max(1) as u64)
}

/// When to renew a token that lives `granted`: after two thirds of it, or
/// after `renew_after` when that is sooner.
pub fn renewal_delay(granted: Duration, renew_after: Option<Duration>) -> Duration {
    let two_thirds = granted * 2 / 3;
    renew_after.map_or(two_thirds, |after| after.min(two_thirds))
}

fn write_token(path: &Path, token: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = path.with_extension("partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&partial, path)
}

/// A client for the account: the admin configuration's server and CA, and
/// the token in `path`, which kube's client reads again about once a
/// minute, so renewing the token ([`request_token`] again) renews every
/// client and watch built on it without restarting them.
pub fn account_client(admin_config: &Config, path: &Path) -> Result<Client, String> {
    let mut config = admin_config.clone();
    config.auth_info = kube::config::AuthInfo {
        token_file: Some(path.to_string_lossy().into_owned()),
        ..kube::config::AuthInfo::default()
    };
    Client::try_from(config).map_err(|e| format!("cannot build a client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_at_two_thirds_or_sooner() {
        let at = |s: i64| jiff::Timestamp::from_second(1_800_000_000 + s).unwrap();
        assert_eq!(granted_lifetime(at(0), at(3600)), Duration::from_secs(3600));
        // The server's clock behind ours: never zero or negative.
        assert_eq!(granted_lifetime(at(10), at(5)), Duration::from_secs(1));
        let hour = Duration::from_secs(3600);
        assert_eq!(renewal_delay(hour, None), Duration::from_secs(2400));
        assert_eq!(
            renewal_delay(hour, Some(Duration::from_secs(60))),
            Duration::from_secs(60)
        );
        assert_eq!(
            renewal_delay(hour, Some(Duration::from_secs(3000))),
            Duration::from_secs(2400),
            "never later than two thirds"
        );
    }

    #[test]
    fn a_token_file_is_private_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens/dev-team--cluster-a.token");
        write_token(&path, "first").unwrap();
        write_token(&path, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!path.with_extension("partial").exists());
    }
}
