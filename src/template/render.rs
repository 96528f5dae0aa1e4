//! The rendered task definition: every placeholder substituted. It may hold secret values, so
//! it never prints itself, and it knows which of its fields hold one.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde_json::{Map, Value};

use super::{Places, Slot, Template};
use crate::document;
use crate::placeholder::{Reference, Resolved, Segment};

#[derive(Default)]
pub struct Rendered {
    pub body: Map<String, Value>,
    /// Paths of string values that hold a secret value.
    pub secret_paths: BTreeSet<String>,
    /// The same values as JSON pointers.
    pub secret_pointers: BTreeSet<String>,
    /// Where its values came from in the template file.
    pub places: Places,
    /// Numbers as the template writes them (`1e3`, not `1e+3`).
    pub numbers: document::Numbers,
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered")
            .field("secret_paths", &self.secret_paths)
            .finish_non_exhaustive()
    }
}

impl Rendered {
    pub fn family(&self) -> &str {
        self.body
            .get("family")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn holds_secret_values(&self) -> bool {
        !self.secret_paths.is_empty()
    }

    /// The compact JSON sent to ECS, numbers as the template writes them.
    pub fn to_json(&self) -> Vec<u8> {
        document::to_string(&Value::Object(self.body.clone()), &self.numbers, false).into_bytes()
    }

    /// Pretty JSON for the rendered file, numbers as the template writes them.
    pub fn to_pretty_json(&self) -> String {
        document::to_string(&Value::Object(self.body.clone()), &self.numbers, true) + "\n"
    }
}

/// Substitutes every placeholder. `resolved` must hold every reference of the slots.
pub fn render(
    template: Template,
    slots: &[Slot],
    resolved: &HashMap<Reference, Resolved>,
) -> Rendered {
    let mut body = Value::Object(template.body);
    let mut secret_paths = BTreeSet::new();
    let mut secret_pointers = BTreeSet::new();
    for slot in slots {
        let mut text = String::new();
        for segment in &slot.segments {
            match segment {
                Segment::Literal(literal) => text.push_str(literal),
                Segment::Placeholder { reference, .. } => {
                    let value = &resolved[reference];
                    if value.secret {
                        secret_paths.insert(slot.path.clone());
                        secret_pointers.insert(slot.pointer.clone());
                    }
                    text.push_str(value.text.expose());
                }
            }
        }
        *body
            .pointer_mut(&slot.pointer)
            .expect("slots point into the template") = Value::String(text);
    }
    let Value::Object(body) = body else {
        unreachable!("the body stays an object")
    };
    let mut known = template.origins;
    for slot in slots {
        if let Some(first) = slot.locations.first() {
            known.insert(slot.pointer.clone(), first.clone());
        }
    }
    Rendered {
        body,
        secret_paths,
        secret_pointers,
        places: Places {
            file: template.path,
            source: template.source,
            known,
        },
        numbers: template.numbers,
    }
}
