//! Reading the documented attribute shapes of a provider crate.
//!
//! A provider crate documents the attribute document of each resource kind
//! it yields in a Markdown file: one `` ## `kind` `` heading per kind, followed
//! (somewhere before the next such heading) by one `` ```json `` block with an
//! example document. Policies and users' criteria depend on those shapes, so
//! the provider's tests check every example against the types that build the
//! documents ([`check_round_trip`]) and run policies over them; this module
//! reads the examples out of the Markdown ([`examples`]) so each provider does
//! not parse it its own way.
//!
//! ```
//! let doc = "# Shapes\n\n## `demo.bucket`\n\nA bucket.\n\n```json\n{\"name\": \"www\"}\n```\n";
//! let examples = pacbot_core::shape_doc::examples(doc)?;
//! assert_eq!(examples[0].kind, "demo.bucket");
//! assert_eq!(examples[0].document["name"], "www");
//! # Ok::<(), String>(())
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One documented example: the kind its heading names and its document.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapeExample {
    /// The kind, from the `` ## `kind` `` heading.
    pub kind: String,
    /// The example document, from the heading's `` ```json `` block.
    pub document: Value,
    /// The line (1-based) where the JSON block starts, for messages.
    pub line: usize,
}

/// The examples of a shapes document, in document order.
///
/// Only the first `` ```json `` block after each kind heading counts; other
/// blocks (such as those under the conventions) are ignored.
///
/// # Errors
/// A JSON block that does not parse, or one left open at the end of the
/// document, with its line and kind.
pub fn examples(markdown: &str) -> Result<Vec<ShapeExample>, String> {
    let mut out = Vec::new();
    let mut kind: Option<String> = None;
    let mut block: Option<(usize, String)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let number = index + 1;
        if let Some((start, text)) = block.as_mut() {
            if line.trim_end() == "```" {
                let start = *start;
                let text = std::mem::take(text);
                block = None;
                if let Some(kind) = kind.take() {
                    let document = serde_json::from_str(&text)
                        .map_err(|e| format!("line {start}: the example of `{kind}` is not JSON: {e}"))?;
                    out.push(ShapeExample { kind, document, line: start });
                }
            } else {
                text.push_str(line);
                text.push('\n');
            }
        } else if let Some(rest) = line.strip_prefix("## `") {
            kind = rest.strip_suffix('`').map(str::to_owned);
        } else if line.trim_end() == "```json" {
            block = Some((number, String::new()));
        }
    }
    match block {
        Some((start, _)) => Err(format!("line {start}: a ```json block is never closed")),
        None => Ok(out),
    }
}

/// Checks that an example reads as `T` and writes back unchanged, so it lists
/// every field of the type in its documented form.
///
/// # Errors
/// What does not read, or how the document written back differs.
pub fn check_round_trip<T: Serialize + DeserializeOwned>(example: &ShapeExample) -> Result<(), String> {
    let kind = &example.kind;
    let typed: T = serde_json::from_value(example.document.clone())
        .map_err(|e| format!("line {}: the example of `{kind}` does not read: {e}", example.line))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("`{kind}`: {e}"))?;
    if back == example.document {
        Ok(())
    } else {
        Err(format!(
            "line {}: the example of `{kind}` must list every field in the documented form; written back it is {back}",
            example.line
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_json_block_of_each_kind() {
        let doc = "## Conventions\n```json\n{\"x\": 1}\n```\n## `a.b`\ntext\n```json\n{\"k\": [1,\n 2]}\n```\n```json\n{}\n```\n## `c.d`\n```json\n{}\n```\n";
        let got = examples(doc).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].kind.as_str(), got[0].line), ("a.b", 7));
        assert_eq!(got[0].document, serde_json::json!({"k": [1, 2]}));
        assert_eq!(got[1].kind, "c.d");
    }

    #[test]
    fn bad_examples_are_errors_naming_the_line() {
        let err = examples("## `a.b`\n```json\n{nope}\n```\n").unwrap_err();
        assert!(err.contains("line 2") && err.contains("`a.b`"), "{err}");
        let err = examples("## `a.b`\n```json\n{}\n").unwrap_err();
        assert!(err.contains("never closed"), "{err}");
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Shape {
        name: String,
        size: Option<u32>,
    }

    #[test]
    fn round_trip_requires_every_field() {
        let full = &examples("## `s`\n```json\n{\"name\": \"n\", \"size\": null}\n```\n").unwrap()[0];
        check_round_trip::<Shape>(full).unwrap();
        let short = &examples("## `s`\n```json\n{\"name\": \"n\"}\n```\n").unwrap()[0];
        let err = check_round_trip::<Shape>(short).unwrap_err();
        assert!(err.contains("every field"), "{err}");
    }
}
