//! The JSON Schema (draft 2020-12) of the input a form accepts.

use super::{Field, FieldType, Form, NAME_MAX_LEN, SelectOption};
use serde_json::{Map, Value, json};

impl Form {
    /// A JSON Schema (draft 2020-12) of the input this form accepts, for portals that render
    /// forms from schemas.
    pub fn input_schema(&self) -> Value {
        let mut properties = Map::new();
        properties.insert(
            "name".into(),
            json!({"type": "string", "minLength": 1, "maxLength": NAME_MAX_LEN, "title": "Request name"}),
        );
        for g in &self.groups {
            let mut props = Map::new();
            let mut required = Vec::new();
            for f in &g.fields {
                props.insert(f.id.clone(), f.json_schema());
                if f.required && f.default.is_none() {
                    required.push(Value::String(f.id.clone()));
                }
            }
            let mut group =
                json!({"type": "object", "properties": props, "additionalProperties": false});
            if let Some(n) = &g.name {
                group["title"] = json!(n);
            }
            if !required.is_empty() {
                group["required"] = Value::Array(required);
            }
            properties.insert(g.id.clone(), group);
        }
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["name"],
            "properties": properties,
            "additionalProperties": false,
        })
    }
}

impl Field {
    fn json_schema(&self) -> Value {
        let mut s = match self.kind {
            FieldType::String | FieldType::Text => json!({"type": "string"}),
            FieldType::Password => json!({"type": "string", "writeOnly": true}),
            FieldType::Email => json!({"type": "string", "format": "email"}),
            FieldType::Url => json!({"type": "string", "format": "uri"}),
            FieldType::Date => json!({"type": "string", "format": "date"}),
            FieldType::Datetime => json!({"type": "string", "format": "date-time"}),
            FieldType::Integer => json!({"type": "integer"}),
            FieldType::Number => json!({"type": "number"}),
            FieldType::Boolean => json!({"type": "boolean"}),
            FieldType::Select => {
                json!({"type": "string", "enum": self.options.iter().map(SelectOption::value).collect::<Vec<_>>()})
            }
            FieldType::Multiselect => json!({
                "type": "array", "uniqueItems": true,
                "items": {"enum": self.options.iter().map(SelectOption::value).collect::<Vec<_>>()},
            }),
            FieldType::Json => json!({}),
        };
        s["title"] = json!(self.label());
        if let Some(d) = &self.description {
            s["description"] = json!(d);
        }
        if let Some(d) = self
            .default
            .as_ref()
            .filter(|_| self.kind != FieldType::Password)
        {
            s["default"] = d.clone();
        }
        if self.kind.is_textual() {
            if let Some(p) = &self.pattern {
                s["pattern"] = json!(p);
            }
            if let Some(n) = self.min_length {
                s["minLength"] = json!(n);
            }
            if let Some(n) = self.max_length {
                s["maxLength"] = json!(n);
            }
        }
        let (lo, hi) = if self.kind == FieldType::Multiselect {
            ("minItems", "maxItems")
        } else {
            ("minimum", "maximum")
        };
        if self.kind.is_numeric() || self.kind == FieldType::Multiselect {
            if let Some(n) = self.min {
                s[lo] = json!(n);
            }
            if let Some(n) = self.max {
                s[hi] = json!(n);
            }
        }
        s
    }
}
