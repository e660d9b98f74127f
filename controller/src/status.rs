//! Writing an object's `status` subresource with a JSON merge patch, which
//! both controllers do: a merge patch leaves every field it does not name,
//! so a field the object's status has and the new status lacks must be
//! named with `null`. Without that, a DNSRecord going from Rejected to
//! Accepted would keep its old reason and message, and a status would
//! never converge (a patch per pass).

use kube::api::Patch;
use serde::Serialize;
use serde_json::Value;

/// The merge patch that makes an object's status exactly `new`, given the
/// status it has now (`old`, as JSON; `None`: no status).
pub fn status_merge_patch<T: Serialize>(new: &T, old: Option<&Value>) -> Patch<Value> {
    let mut body = serde_json::to_value(new).unwrap_or_default();
    if let (Some(body), Some(old)) = (body.as_object_mut(), old.and_then(Value::as_object)) {
        for field in old.keys() {
            body.entry(field.clone()).or_insert(Value::Null);
        }
    }
    Patch::Merge(serde_json::json!({ "status": body }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::{DNSRecordStatus, RecordState};

    #[test]
    fn fields_the_new_status_lacks_are_sent_as_null() {
        let accepted = DNSRecordStatus {
            state: Some(RecordState::Accepted),
            reason: None,
            message: None,
            observed_generation: Some(2),
        };
        let old = json!({"state": "Rejected", "reason": "OutsideZone", "message": "m", "observedGeneration": 1});
        let Patch::Merge(patch) = status_merge_patch(&accepted, Some(&old)) else {
            panic!("a merge patch");
        };
        assert_eq!(
            patch,
            json!({"status": {"state": "Accepted", "reason": null, "message": null, "observedGeneration": 2}})
        );
        // No status yet: only what the new one says.
        let Patch::Merge(patch) = status_merge_patch(&accepted, None) else {
            panic!("a merge patch");
        };
        assert_eq!(
            patch,
            json!({"status": {"state": "Accepted", "observedGeneration": 2}})
        );
    }
}
