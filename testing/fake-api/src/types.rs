//! The resource types the fake serves: what it must know about each to
//! route, store and version its objects.

use std::any::TypeId;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Resource;
use kube::core::NamespaceResourceScope;

/// One resource type (one group, version and plural) the fake serves.
///
/// The built-in types of [`builtin_types`] are always there; custom types
/// are registered with [`crate::FakeApi::register`] or
/// [`crate::FakeApi::register_crd`], or by creating a
/// `CustomResourceDefinition` through the API, as on a real server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// The API group, empty for the core group (`/api/v1`).
    pub group: String,
    /// The version, such as `v1`.
    pub version: String,
    /// The kind, such as `ConfigMap`.
    pub kind: String,
    /// The plural resource name in URLs, such as `configmaps`.
    pub plural: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether the type has a `/status` subresource: writes to the object
    /// keep the old status, writes to `/status` change only the status.
    pub status_subresource: bool,
    /// Whether the server keeps `metadata.generation`: 1 on creation, one
    /// more on every change outside `metadata` (and outside `status`, with
    /// a status subresource).
    pub generation: bool,
    /// A custom resource: updates must carry a `resourceVersion`, strategic
    /// merge patches are refused (415), as on a real server.
    pub custom: bool,
    /// Field selectors allowed beside `metadata.name` and
    /// `metadata.namespace`, as dotted paths into the object (for example
    /// `involvedObject.name` for core Events).
    pub field_selectors: Vec<String>,
}

impl ResourceType {
    /// A built-in style type (no status subresource, no generation).
    pub fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        Self {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced,
            status_subresource: false,
            generation: false,
            custom: false,
            field_selectors: Vec::new(),
        }
    }

    /// The type of `K` (group, version, kind, plural and scope), as a
    /// built-in style type; see [`Self::custom`].
    pub fn of<K>() -> Self
    where
        K: Resource<DynamicType = ()>,
        K::Scope: 'static,
    {
        Self::new(
            &K::group(&()),
            &K::version(&()),
            &K::kind(&()),
            &K::plural(&()),
            TypeId::of::<K::Scope>() == TypeId::of::<NamespaceResourceScope>(),
        )
    }

    /// The type of `K` as a custom resource: generation kept, updates
    /// need a `resourceVersion`. Add [`Self::with_status`] when it has a
    /// status subresource.
    pub fn custom<K>() -> Self
    where
        K: Resource<DynamicType = ()>,
        K::Scope: 'static,
    {
        let mut ty = Self::of::<K>();
        ty.custom = true;
        ty.generation = true;
        ty
    }

    /// With a `/status` subresource.
    #[must_use]
    pub fn with_status(mut self) -> Self {
        self.status_subresource = true;
        self
    }

    /// With `metadata.generation` kept by the server.
    #[must_use]
    pub fn with_generation(mut self) -> Self {
        self.generation = true;
        self
    }

    /// With an extra allowed field selector (a dotted path).
    #[must_use]
    pub fn with_field_selector(mut self, path: &str) -> Self {
        self.field_selectors.push(path.into());
        self
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The served versions of a CRD, one type each.
    pub fn from_crd(crd: &CustomResourceDefinition) -> Vec<Self> {
        let spec = &crd.spec;
        spec.versions
            .iter()
            .filter(|v| v.served)
            .map(|v| Self {
                group: spec.group.clone(),
                version: v.name.clone(),
                kind: spec.names.kind.clone(),
                plural: spec.names.plural.clone(),
                namespaced: spec.scope == "Namespaced",
                status_subresource: v.subresources.as_ref().is_some_and(|s| s.status.is_some()),
                generation: true,
                custom: true,
                field_selectors: Vec::new(),
            })
            .collect()
    }

    /// `configmaps` or `dnsrecords.connectivity.tanzu.vmware.com`, as in
    /// the server's messages.
    pub(crate) fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `ConfigMap` or `DNSRecord.connectivity.tanzu.vmware.com`, as in
    /// the server's "is invalid" messages.
    pub(crate) fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

/// The built-in types every fake serves: core `v1` Namespaces (cluster
/// scoped), ConfigMaps, Secrets, Services, Endpoints, ServiceAccounts,
/// Pods and Events; `events.k8s.io/v1` Events; `coordination.k8s.io/v1`
/// Leases; `discovery.k8s.io` `v1` and `v1beta1` EndpointSlices; `apps/v1`
/// Deployments; `apiextensions.k8s.io/v1` CustomResourceDefinitions.
pub fn builtin_types() -> Vec<ResourceType> {
    let core = |kind: &str, plural: &str| ResourceType::new("", "v1", kind, plural, true);
    vec![
        ResourceType::new("", "v1", "Namespace", "namespaces", false).with_status(),
        core("ConfigMap", "configmaps"),
        core("Secret", "secrets").with_field_selector("type"),
        core("Service", "services").with_status(),
        core("Endpoints", "endpoints"),
        core("ServiceAccount", "serviceaccounts"),
        core("Pod", "pods")
            .with_status()
            .with_field_selector("spec.nodeName")
            .with_field_selector("status.phase"),
        core("Event", "events")
            .with_field_selector("involvedObject.kind")
            .with_field_selector("involvedObject.namespace")
            .with_field_selector("involvedObject.name")
            .with_field_selector("involvedObject.uid")
            .with_field_selector("reason")
            .with_field_selector("type"),
        ResourceType::new("events.k8s.io", "v1", "Event", "events", true),
        ResourceType::new("coordination.k8s.io", "v1", "Lease", "leases", true),
        ResourceType::new(
            "discovery.k8s.io",
            "v1",
            "EndpointSlice",
            "endpointslices",
            true,
        ),
        ResourceType::new(
            "discovery.k8s.io",
            "v1beta1",
            "EndpointSlice",
            "endpointslices",
            true,
        ),
        ResourceType::new("apps", "v1", "Deployment", "deployments", true)
            .with_status()
            .with_generation(),
        ResourceType::new(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        )
        .with_status()
        .with_generation(),
    ]
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::api::core::v1::Namespace;

    use super::*;

    #[test]
    fn scope_and_names_come_from_the_type() {
        let lease = ResourceType::of::<Lease>();
        assert_eq!(lease.api_version(), "coordination.k8s.io/v1");
        assert_eq!(lease.plural, "leases");
        assert!(lease.namespaced);
        let namespace = ResourceType::of::<Namespace>();
        assert_eq!(namespace.api_version(), "v1");
        assert!(!namespace.namespaced);
        assert_eq!(namespace.qualified_resource(), "namespaces");
        assert_eq!(lease.qualified_kind(), "Lease.coordination.k8s.io");
    }
}
