//! `metav1.Status` bodies, with the reasons, codes and messages of the
//! API server (the messages of kube-apiserver 1.20, where a test against
//! it showed them).

use kube::core::Status;
use kube::core::response::{StatusCause, StatusDetails, StatusSummary};
use serde_json::{Value, json};

use crate::types::ResourceType;

/// A failure with `code`, `reason` and `message`.
pub fn failure(code: u16, reason: &str, message: &str) -> Status {
    Status {
        status: Some(StatusSummary::Failure),
        code,
        message: message.into(),
        metadata: None,
        reason: reason.into(),
        details: None,
    }
}

fn details(ty: &ResourceType, name: &str) -> StatusDetails {
    StatusDetails {
        name: name.into(),
        group: ty.group.clone(),
        kind: ty.plural.clone(),
        uid: String::new(),
        causes: Vec::new(),
        retry_after_seconds: 0,
    }
}

/// 404 `NotFound`: `configmaps "x" not found`.
pub(crate) fn not_found(ty: &ResourceType, name: &str) -> Status {
    Status {
        details: Some(details(ty, name)),
        ..failure(
            404,
            "NotFound",
            &format!("{} \"{name}\" not found", ty.qualified_resource()),
        )
    }
}

/// 404 `NotFound` for a path the fake does not serve.
pub(crate) fn no_such_path() -> Status {
    failure(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

/// 409 `AlreadyExists`.
pub(crate) fn already_exists(ty: &ResourceType, name: &str) -> Status {
    Status {
        details: Some(details(ty, name)),
        ..failure(
            409,
            "AlreadyExists",
            &format!("{} \"{name}\" already exists", ty.qualified_resource()),
        )
    }
}

/// 409 `Conflict` for a stale `resourceVersion`.
pub(crate) fn conflict(ty: &ResourceType, name: &str) -> Status {
    Status {
        details: Some(details(ty, name)),
        ..failure(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                ty.qualified_resource()
            ),
        )
    }
}

/// 409 `Conflict` for a failed delete precondition.
pub(crate) fn precondition_failed(ty: &ResourceType, name: &str, message: &str) -> Status {
    Status {
        details: Some(details(ty, name)),
        ..failure(
            409,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {} \"{name}\": {message}",
                ty.kind
            ),
        )
    }
}

/// 422 `Invalid`, with one cause on `field`.
pub(crate) fn invalid(
    ty: &ResourceType,
    name: &str,
    field: &str,
    cause: &str,
    detail: &str,
) -> Status {
    let mut details = details(ty, name);
    details.causes = vec![StatusCause {
        reason: cause.into(),
        message: detail.into(),
        field: field.into(),
    }];
    Status {
        details: Some(details),
        ..failure(
            422,
            "Invalid",
            &format!(
                "{} \"{name}\" is invalid: {field}: {detail}",
                ty.qualified_kind()
            ),
        )
    }
}

/// 400 `BadRequest`.
pub(crate) fn bad_request(message: &str) -> Status {
    failure(400, "BadRequest", message)
}

/// 410 `Expired`: `too old resource version: 5 (10)`.
pub(crate) fn expired(message: &str) -> Status {
    failure(410, "Expired", message)
}

/// A 500 without a reason, as the API server answers a request it cannot
/// decode past its own checks (a `resourceVersion` in a create, one that
/// is no number).
pub(crate) fn server_error(message: &str) -> Status {
    failure(500, "", message)
}

/// 504 `Timeout`: a list from a `resourceVersion` the server has not
/// reached (the real server waits 3 s first).
pub(crate) fn too_large_resource_version(asked: u64, current: u64) -> Status {
    let mut status = failure(
        504,
        "Timeout",
        &format!("Timeout: Too large resource version: {asked}, current: {current}"),
    );
    status.details = Some(StatusDetails {
        name: String::new(),
        group: String::new(),
        kind: String::new(),
        uid: String::new(),
        causes: vec![StatusCause {
            reason: "ResourceVersionTooLarge".into(),
            message: "Too large resource version".into(),
            field: String::new(),
        }],
        retry_after_seconds: 1,
    });
    status
}

/// 405 `MethodNotAllowed`.
pub(crate) fn method_not_allowed() -> Status {
    failure(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    )
}

/// 415 `UnsupportedMediaType`.
pub(crate) fn unsupported_media_type(accepted: &str) -> Status {
    failure(
        415,
        "UnsupportedMediaType",
        &format!(
            "the body of the request was in an unknown format - accepted media types include: {accepted}"
        ),
    )
}

/// The success answer to a DELETE that removed the object.
pub(crate) fn deleted(ty: &ResourceType, name: &str, uid: &str) -> Value {
    let mut details = json!({ "name": name, "kind": ty.plural, "uid": uid });
    if !ty.group.is_empty() {
        details["group"] = json!(ty.group);
    }
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Success", "details": details,
    })
}

/// The JSON body of `status` (`kind: Status`, `apiVersion: v1`).
pub(crate) fn to_body(status: &Status) -> Value {
    let mut body = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    body["kind"] = json!("Status");
    body["apiVersion"] = json!("v1");
    body["metadata"] = json!({});
    body
}

/// 422 `Invalid`: a server-side apply without `fieldManager`.
pub(crate) fn apply_needs_field_manager() -> Status {
    let mut status = failure(
        422,
        "Invalid",
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
    );
    status.details = Some(StatusDetails {
        name: String::new(),
        group: "meta.k8s.io".into(),
        kind: "PatchOptions".into(),
        uid: String::new(),
        causes: vec![StatusCause {
            reason: "FieldValueRequired".into(),
            message: "Required value: is required for apply patch".into(),
            field: "fieldManager".into(),
        }],
        retry_after_seconds: 0,
    });
    status
}
