//! Least privilege in workload clusters. A Cluster API kubeconfig Secret
//! holds a `system:masters` certificate; the controller uses it as little
//! as possible: to install, in each workload cluster, a ServiceAccount with
//! exactly the rights it needs, and to ask for that account's token
//! (TokenRequest, refreshed before it expires). Everything else — reading
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
use std::time::{Duration, Instant};

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
    let roles: Api<Role> = Api::namespaced(admin.clone(), namespace);
    let role = Role {
        metadata: meta(ACCOUNT, Some(namespace)),
        rules: Some(vec![rule(
            "connectivity.tanzu.vmware.com",
            "dnsrecords",
            &[
                "get", "list", "watch", "create", "update", "patch", "delete",
            ],
            &[],
        )]),
    };
    apply(&roles, ACCOUNT, &role).await?;
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), namespace);
    let binding = RoleBinding {
        metadata: meta(ACCOUNT, Some(namespace)),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "Role".to_owned(),
            name: ACCOUNT.to_owned(),
        },
        subjects: Some(subject(namespace)),
    };
    apply(&bindings, ACCOUNT, &binding).await?;
    // The probe reads the namespace itself: a cluster-scoped rule, by name.
    let cluster_role_name = format!("{ACCOUNT}-{namespace}");
    let cluster_roles: Api<ClusterRole> = Api::all(admin.clone());
    let cluster_role = ClusterRole {
        metadata: meta(&cluster_role_name, None),
        rules: Some(vec![rule("", "namespaces", &["get"], &[namespace])]),
        ..ClusterRole::default()
    };
    apply(&cluster_roles, &cluster_role_name, &cluster_role).await?;
    let cluster_bindings: Api<ClusterRoleBinding> = Api::all(admin.clone());
    let cluster_binding = ClusterRoleBinding {
        metadata: meta(&cluster_role_name, None),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "ClusterRole".to_owned(),
            name: cluster_role_name.clone(),
        },
        subjects: Some(subject(namespace)),
    };
    apply(&cluster_bindings, &cluster_role_name, &cluster_binding).await
}

/// Grants the account (of the records' namespace `namespace`) read access
/// to one gateway Service, by name.
pub async fn grant_service(
    admin: &Client,
    namespace: &str,
    service_namespace: &str,
    service: &str,
) -> Result<(), kube::Error> {
    let name = format!("{ACCOUNT}-{service}");
    let roles: Api<Role> = Api::namespaced(admin.clone(), service_namespace);
    let role = Role {
        metadata: meta(&name, Some(service_namespace)),
        rules: Some(vec![rule(
            "",
            "services",
            &["get", "list", "watch"],
            &[service],
        )]),
    };
    apply(&roles, &name, &role).await?;
    let bindings: Api<RoleBinding> = Api::namespaced(admin.clone(), service_namespace);
    let binding = RoleBinding {
        metadata: meta(&name, Some(service_namespace)),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "Role".to_owned(),
            name: name.clone(),
        },
        subjects: Some(subject(namespace)),
    };
    apply(&bindings, &name, &binding).await
}

/// Grants the account list/watch of Nodes (cluster-wide: Nodes are not
/// namespaced), for `resolutionType: nodePort` gateways only; a cluster
/// whose gateways are all load balancers never gets this rule. Nodes hold
/// addresses, capacity and images, no secrets.
pub async fn grant_nodes(admin: &Client, namespace: &str) -> Result<(), kube::Error> {
    let name = format!("{ACCOUNT}-nodes-{namespace}");
    let cluster_roles: Api<ClusterRole> = Api::all(admin.clone());
    let cluster_role = ClusterRole {
        metadata: meta(&name, None),
        rules: Some(vec![rule("", "nodes", &["get", "list", "watch"], &[])]),
        ..ClusterRole::default()
    };
    apply(&cluster_roles, &name, &cluster_role).await?;
    let cluster_bindings: Api<ClusterRoleBinding> = Api::all(admin.clone());
    let cluster_binding = ClusterRoleBinding {
        metadata: meta(&name, None),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "ClusterRole".to_owned(),
            name: name.clone(),
        },
        subjects: Some(subject(namespace)),
    };
    apply(&cluster_bindings, &name, &cluster_binding).await
}

/// A client for the account, from a fresh token (TokenRequest), with the
/// admin configuration's server and CA; and when to renew it.
pub async fn account_client(
    admin: &Client,
    admin_config: &Config,
    namespace: &str,
) -> Result<(Client, Instant), String> {
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(TOKEN_LIFETIME.as_secs() as i64),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let issued = Instant::now();
    let response = accounts
        .create_token_request(ACCOUNT, &PostParams::default(), &request)
        .await
        .map_err(|e| format!("cannot get a token for ServiceAccount {namespace}/{ACCOUNT}: {e}"))?;
    let token = response
        .status
        .and_then(|s| s.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("the TokenRequest for {namespace}/{ACCOUNT} returned no token"))?;
    let mut config = admin_config.clone();
    config.auth_info = kube::config::AuthInfo {
        token: Some(token.into()),
        ..kube::config::AuthInfo::default()
    };
    let client = Client::try_from(config).map_err(|e| format!("cannot build a client: {e}"))?;
    Ok((client, issued + TOKEN_LIFETIME * 2 / 3))
}
